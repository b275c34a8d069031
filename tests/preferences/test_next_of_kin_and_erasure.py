from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.erasure import erased_identifiers_clear
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import (
    ConsentEvent,
    Contactability,
    ContactPoint,
    Customer,
    SuppressedIdentifier,
)
from preferences import services
from preferences.models import ErasureRequest, NextOfKinReport, Preference
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db

NOK = "/next-of-kin/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("officer", password="x" * 12)


def _report(client, **overrides):
    data = {
        "deceased_name": "王小明",
        "customer_ref": "",
        "identifier": "13800138000",
        "document_reference": "DC-2026-001",
        "reporter_name": "王芳",
        "relationship": "spouse",
        "reporter_contact": "13700137000",
    }
    data.update(overrides)
    return client.post(NOK, data)


def test_next_of_kin_report_is_queued_encrypted(client, customer, phone_point):
    response = _report(client)
    assert response.status_code == 200
    assert "Report received" in response.content.decode()
    report = NextOfKinReport.objects.get()
    assert report.customer == customer and report.status == "pending"
    assert report.document_reference == "DC-2026-001"
    assert "DC-2026" not in report.document_reference_encrypted
    customer.refresh_from_db()
    assert customer.status == "active"  # not recorded as deceased before staff confirm


def test_next_of_kin_needs_a_reference_or_number(client):
    response = _report(client, identifier="", customer_ref="")
    assert "Give the customer reference or the phone number" in (
        response.content.decode()
    )
    assert not NextOfKinReport.objects.exists()


def test_confirmed_death_stops_marketing_for_good(
    client, customer, phone_point, sms, credit_card, notice_en, staff
):
    grant(customer, sms, credit_card, notice_en)
    _report(client)
    services.next_of_kin_report_confirm(
        report=NextOfKinReport.objects.get(), staff_user=staff
    )
    customer.refresh_from_db()
    assert customer.status == "deceased"
    opt_out = ConsentEvent.objects.filter(action="opt_out_all").get()
    assert opt_out.actor == "staff:officer"
    key = Contactability.objects.get(channel=sms)
    assert key.suppressed and "opt_out_all" in key.reasons
    assert key.changes.last().suppressed
    with pytest.raises(ApplicationError):
        grant(customer, sms, credit_card, notice_en)
    # "I want marketing again" is refused for a deceased customer too.
    with pytest.raises(ApplicationError):
        consent_services.consent_opt_in_all(
            customer=customer, source="portal", actor=Actor.customer(customer)
        )
    assert Contactability.objects.get(channel=sms).suppressed


def test_deceased_customer_cannot_sign_in(client, customer, phone_point, outbox, staff):
    _report(client)
    services.next_of_kin_report_confirm(
        report=NextOfKinReport.objects.get(), staff_user=staff
    )
    client.post(reverse("portal:sign_in"), {"identifier": "13800138000"})
    assert outbox == []


def test_erasure_keeps_only_the_refusal(
    portal_client, customer, phone_point, sms, credit_card, notice_en, staff
):
    add_email(customer, "wang@example.cn")
    grant(customer, sms, credit_card, notice_en)
    portal_client.post(reverse("portal:personalisation"), {"refuse": "on"})
    portal_client.post(reverse("portal:my_data"))
    ledger_rows = ConsentEvent.objects.count()

    services.erasure_request_carry_out(
        request=ErasureRequest.objects.get(), staff_user=staff
    )
    customer.refresh_from_db()
    assert customer.status == "erased" and customer.display_name == ""
    assert set(ContactPoint.objects.values_list("address_encrypted", flat=True)) == {""}
    assert not Preference.objects.filter(customer=customer).exists()
    assert SuppressedIdentifier.objects.filter(reason="erased").count() == 2
    for key in Contactability.objects.all():
        # Published with the identifier for the grace period, then blank.
        assert key.identifier and key.suppressed and key.identifier_erase_at
        assert key.changes.last().suppressed
    assert erased_identifiers_clear() == 0
    keys = Contactability.objects.count()
    assert erased_identifiers_clear(now=timezone.now() + timedelta(days=31)) == keys
    assert set(Contactability.objects.values_list("identifier", flat=True)) == {""}
    assert ConsentEvent.objects.count() == ledger_rows
    assert ErasureRequest.objects.get().status == "done"
    # The session no longer opens the account.
    assert portal_client.get(reverse("portal:dashboard")).status_code == 302
    # A later import of the same number stays suppressed.
    add_phone(CustomerFactory(), "13800138000")
    key = Contactability.objects.get(channel=sms)
    assert key.suppressed and key.identifier == "+8613800138000"
    assert key.identifier_erase_at is None


def test_erasure_request_cannot_run_twice(customer, phone_point, staff):
    request = services.erasure_request_create(customer=customer)
    services.erasure_request_carry_out(request=request, staff_user=staff)
    with pytest.raises(ApplicationError):
        services.erasure_request_carry_out(request=request, staff_user=staff)
    assert Customer.objects.get(pk=customer.pk).status == "erased"


def test_next_of_kin_reports_are_throttled_per_connection(
    client, customer, phone_point
):
    for _ in range(5):
        assert "Report received" in _report(client).content.decode()
    response = _report(client)
    assert "Too many reports" in response.content.decode()
    assert NextOfKinReport.objects.count() == 5


def test_erasing_one_holder_of_a_shared_phone_keeps_it_suppressed(
    customer, phone_point, sms, credit_card, notice_en, staff
):
    other = CustomerFactory()
    add_phone(other, "13800138000")
    grant(other, sms, credit_card, notice_en)
    assert "credit_card" in Contactability.objects.get(channel=sms).permitted_topics
    request = services.erasure_request_create(customer=customer)
    services.erasure_request_carry_out(request=request, staff_user=staff)
    key = Contactability.objects.get(channel=sms)
    # The person who asked for erasure gets no marketing on it again; the other
    # holder's grant predates the erasure and does not lift it. Service messages
    # still reach the other holder.
    assert key.suppressed and "credit_card" not in key.permitted_topics
    assert key.topic_reasons["credit_card"] == ["opt_out_all"]
    assert "security_alert" in key.permitted_topics
    # The other holder still uses the number, so it stays published in clear.
    assert key.identifier == "+8613800138000"


def test_only_an_active_customer_can_be_marked_deceased(customer, staff):
    from consent.lifecycle import customer_mark_deceased

    customer_mark_deceased(customer=customer, actor=Actor.staff(staff))
    with pytest.raises(ApplicationError):
        customer_mark_deceased(customer=customer, actor=Actor.staff(staff))
    assert ConsentEvent.objects.filter(action="opt_out_all").count() == 1
