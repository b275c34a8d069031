"""Call centre and branch: a withdrawal, "not me" or care pause the customer (or their
next of kin) asks for is recorded at once from the admin, without a second approver,
with the call or visit reference as evidence in the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from backoffice.models import AccessLog, ApprovalRequest, AssistedRecord
from backoffice.roles import BRANCH, CALL_CENTRE, COMPLAINT_HANDLER
from consent.models import (
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    OptOut,
)
from preferences.models import CarePause
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

ADD = "/admin/backoffice/assistedrecord/add/"


@pytest.fixture
def agent(staff_user):
    return staff_user(CALL_CENTRE, username="ann")


@pytest.fixture
def teller(staff_user):
    return staff_user(BRANCH, username="ben")


@pytest.fixture
def granted(
    customer, phone_point, sms, email_channel, credit_card, personal_loan, notice_en
):
    for channel in (sms, email_channel):
        for topic in (credit_card, personal_loan):
            grant(customer, channel, topic, notice_en)
    return customer


def _state(customer, channel, topic) -> str:
    return ConsentState.objects.get(
        customer=customer, channel=channel, topic=topic
    ).status


def test_call_centre_withdraws_one_cell_at_once_with_the_call_reference(
    granted, agent, otp_admin_client, sms, email_channel, credit_card, personal_loan
):
    before = ConsentEvent.objects.count()
    response = otp_admin_client(agent).post(
        ADD,
        {
            "kind": "withdrawal",
            "via": "call_centre",
            "reference": "CALL-20261202-17",
            "customer_ref": granted.external_ref,
            "scope": "cell",
            "channel": "sms",
            "topic": "credit_card",
            "on_behalf_of": "customer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _state(granted, sms, credit_card) == "withdrawn"
    assert _state(granted, sms, personal_loan) == "granted"
    assert _state(granted, email_channel, credit_card) == "granted"
    event = ConsentEvent.objects.order_by("seq").last()
    assert ConsentEvent.objects.count() == before + 1
    assert event.action == "withdraw" and event.source == "call_centre"
    assert event.actor == "staff:ann"
    assert event.evidence["assisted_reference"] == "CALL-20261202-17"
    assert event.evidence["assisted_via"] == "call_centre"
    record = AssistedRecord.objects.get()
    assert record.ledger_events == [event.pk]
    assert record.recorded_by == agent and record.customer == granted
    assert not ApprovalRequest.objects.exists()
    logged = AccessLog.objects.get(object_type="backoffice.assistedrecord")
    assert logged.action == "change" and logged.customer_ref == granted.external_ref
    key = Contactability.objects.get(blind_index=_phone_index(granted), channel=sms)
    assert "credit_card" not in key.permitted_topics


def _phone_index(customer) -> str:
    return ContactPoint.objects.get(customer=customer, kind="phone").blind_index


def test_branch_withdraws_a_whole_channel_or_all_marketing(
    granted, teller, otp_admin_client, sms, email_channel, credit_card, personal_loan
):
    client = otp_admin_client(teller)
    base = {
        "kind": "withdrawal",
        "via": "branch",
        "reference": "VISIT-88",
        "customer_ref": granted.external_ref,
        "on_behalf_of": "customer",
    }
    assert (
        client.post(ADD, {**base, "scope": "channel", "channel": "email"}).status_code
        == 302
    )
    assert _state(granted, email_channel, credit_card) == "withdrawn"
    assert _state(granted, email_channel, personal_loan) == "withdrawn"
    assert _state(granted, sms, credit_card) == "granted"
    assert client.post(ADD, {**base, "scope": "all"}).status_code == 302
    assert OptOut.objects.filter(customer=granted).exists()
    assert _state(granted, sms, credit_card) == "withdrawn"
    sources = set(
        ConsentEvent.objects.filter(actor="staff:ben").values_list("source", flat=True)
    )
    assert sources == {"branch"}
    assert AssistedRecord.objects.filter(via="branch").count() == 2


def test_not_me_for_one_of_the_customers_numbers_stops_everything_to_it(
    customer, phone_point, agent, otp_admin_client, sms
):
    sharer = CustomerFactory()
    shared = add_phone(sharer, "+8613800138000")
    response = otp_admin_client(agent).post(
        ADD,
        {
            "kind": "not_me",
            "via": "call_centre",
            "reference": "CALL-9",
            "customer_ref": customer.external_ref,
            "address": "138 0013 8000",
            "on_behalf_of": "customer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    phone_point.refresh_from_db()
    shared.refresh_from_db()
    assert phone_point.status == ContactPoint.Status.NOT_ME
    assert shared.status == ContactPoint.Status.NOT_ME
    key = Contactability.objects.get(blind_index=phone_point.blind_index, channel=sms)
    assert key.suppressed and "not_me" in key.reasons
    events = ConsentEvent.objects.filter(action="contact_not_me")
    assert {e.source for e in events} == {"call_centre"}
    assert {e.evidence["assisted_reference"] for e in events} == {"CALL-9"}
    # The same correction task as the portal's "this is not me" opens for staff.
    from preferences.models import NotMeReport

    report = NotMeReport.objects.get(blind_index=phone_point.blind_index)
    assert report.contact_points == 2 and report.reviewed_at is None


def test_not_me_for_an_address_the_customer_does_not_hold_changes_nothing(
    customer, phone_point, agent, otp_admin_client
):
    before = ConsentEvent.objects.count()
    response = otp_admin_client(agent).post(
        ADD,
        {
            "kind": "not_me",
            "via": "call_centre",
            "reference": "CALL-10",
            "customer_ref": customer.external_ref,
            "address": "+8613911112222",
            "on_behalf_of": "customer",
        },
    )
    assert response.status_code == 200
    assert "not one of this customer" in response.content.decode()
    assert ConsentEvent.objects.count() == before
    assert not AssistedRecord.objects.exists()


def test_care_pause_on_behalf_of_next_of_kin(
    customer, phone_point, agent, otp_admin_client, sms
):
    until = timezone.localdate() + timedelta(days=30)
    form = {
        "kind": "care_pause",
        "via": "call_centre",
        "reference": "CALL-11",
        "customer_ref": customer.external_ref,
        "pause_until": until.isoformat(),
        "pause_scope": "marketing+collections",
        "pause_reason": "illness",
        "on_behalf_of": "next_of_kin",
    }
    client = otp_admin_client(agent)
    missing = client.post(ADD, form)
    assert missing.status_code == 200
    assert "Say how the person asking is related" in missing.content.decode()
    assert not CarePause.objects.exists()
    response = client.post(ADD, {**form, "relationship": "daughter"})
    assert response.status_code == 302, response.content.decode()[:3000]
    pause = CarePause.objects.get(customer=customer)
    assert pause.scope == "marketing+collections" and pause.reason == "illness"
    event = ConsentEvent.objects.get(action="care_pause_start")
    assert event.source == "call_centre" and event.actor == "staff:ann"
    assert event.evidence["asked_by"] == "next_of_kin"
    assert event.evidence["relationship"] == "daughter"
    key = Contactability.objects.get(blind_index=phone_point.blind_index, channel=sms)
    assert "care_pause" in key.reasons
    record = AssistedRecord.objects.get()
    assert record.on_behalf_of == "next_of_kin" and record.relationship == "daughter"


def test_reference_is_required_and_nothing_changes_without_it(
    granted, agent, otp_admin_client, sms, credit_card
):
    before = ConsentEvent.objects.count()
    response = otp_admin_client(agent).post(
        ADD,
        {
            "kind": "withdrawal",
            "via": "call_centre",
            "reference": "",
            "customer_ref": granted.external_ref,
            "scope": "all",
            "on_behalf_of": "customer",
        },
    )
    assert response.status_code == 200
    assert ConsentEvent.objects.count() == before
    assert not OptOut.objects.filter(customer=granted).exists()


def test_staff_record_only_for_their_own_desk(
    granted, teller, staff_user, otp_admin_client
):
    response = otp_admin_client(teller).post(
        ADD,
        {
            "kind": "withdrawal",
            "via": "call_centre",
            "reference": "X-1",
            "customer_ref": granted.external_ref,
            "scope": "all",
            "on_behalf_of": "customer",
        },
    )
    assert response.status_code == 200
    assert not OptOut.objects.filter(customer=granted).exists()
    handler = staff_user(COMPLAINT_HANDLER)
    assert otp_admin_client(handler).get(ADD).status_code == 403


def test_viewing_a_record_and_the_customer_is_access_logged(
    granted, agent, otp_admin_client
):
    client = otp_admin_client(agent)
    client.post(
        ADD,
        {
            "kind": "withdrawal",
            "via": "call_centre",
            "reference": "CALL-12",
            "customer_ref": granted.external_ref,
            "scope": "all",
            "on_behalf_of": "customer",
        },
    )
    record = AssistedRecord.objects.get()
    page = client.get(f"/admin/backoffice/assistedrecord/{record.pk}/change/")
    assert page.status_code == 200
    assert AccessLog.objects.filter(
        user=agent,
        action="view",
        object_type="backoffice.assistedrecord",
        customer_ref=granted.external_ref,
    ).exists()
    customer_page = client.get(f"/admin/consent/customer/{granted.pk}/change/")
    assert customer_page.status_code == 200
    assert ADD in customer_page.content.decode()
    assert AccessLog.objects.filter(
        user=agent, action="view", object_type="consent.customer"
    ).exists()
    assert Group.objects.filter(name__in=[CALL_CENTRE, BRANCH]).count() == 2
