"""Double opt-in: a new address carries no marketing until its holder confirms it,
by the code in the portal or the link in the same message; the matrix cannot switch
on a channel without a confirmed address, even from a forged form."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from consent import services
from consent.ledger import Actor
from consent.models import (
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    SuppressionChange,
)
from preferences import confirm_links
from preferences.services import MSG_TOO_MANY_CODES
from tests.factories import CustomerFactory, add_email, grant

pytestmark = pytest.mark.django_db

PAGE = "/account/preferences/"


def _link_path(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/confirm/\S+?) ", body).group(1)


def _email_key():
    return Contactability.objects.filter(channel__code="email").first()


# --- the address carries nothing until confirmed ----------------------------------


def test_unconfirmed_email_carries_no_marketing_until_its_code(
    portal_client, customer, email_channel, credit_card, notice_en, last_code
):
    grant(customer, email_channel, credit_card, notice_en)
    portal_client.post(
        reverse("portal:contact_point_add"),
        {"kind": "email", "address": "holder@example.com"},
    )
    point = ContactPoint.objects.get(customer=customer, kind="email")
    assert not point.is_verified
    assert _email_key() is None  # nothing published for an address nobody proved

    listing = portal_client.get(reverse("portal:contact_points")).content.decode()
    assert "Waiting for confirmation" in listing
    assert reverse("portal:contact_point_verify", args=[point.pk]) in listing
    assert 'name="action" value="resend"' in listing

    portal_client.post(
        reverse("portal:contact_point_verify", args=[point.pk]), {"code": last_code()}
    )
    assert "credit_card" in _email_key().permitted_topics
    listing = portal_client.get(reverse("portal:contact_points")).content.decode()
    assert "Waiting for confirmation" not in listing


def test_resend_from_the_list_sends_a_new_code_and_is_rate_limited(
    portal_client, customer, outbox
):
    point = add_email(customer, "holder@example.com", verified=False)
    url = reverse("portal:contact_point_verify", args=[point.pk])
    sent = len(outbox)
    response = portal_client.post(url, {"action": "resend"}, follow=True)
    assert len(outbox) == sent + 1 and outbox[-1].to == "holder@example.com"
    assert "We sent a new code." in response.content.decode()
    for _n in range(10):
        response = portal_client.post(url, {"action": "resend"}, follow=True)
    assert str(MSG_TOO_MANY_CODES) in response.content.decode()
    assert len(outbox) <= sent + 5


def test_a_confirmed_address_is_not_sent_a_code_again(
    portal_client, customer, phone_point, outbox
):
    sent = len(outbox)
    url = reverse("portal:contact_point_verify", args=[phone_point.pk])
    response = portal_client.post(url, {"action": "resend"}, follow=True)
    assert len(outbox) == sent
    assert "already confirmed" in response.content.decode()


# --- the link ------------------------------------------------------------------------


def test_the_link_in_the_message_confirms_after_a_button_press(
    portal_client, client, customer, outbox, email_channel, credit_card, notice_en
):
    grant(customer, email_channel, credit_card, notice_en)
    portal_client.post(
        reverse("portal:contact_point_add"),
        {"kind": "email", "address": "holder@example.com"},
    )
    point = ContactPoint.objects.get(customer=customer, kind="email")
    path = _link_path(outbox[-1].body + " ")
    client.logout()
    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "h***@example.com" in page.content.decode()
    point.refresh_from_db()
    assert not point.is_verified

    done = client.post(path)
    assert done.status_code == 200
    point.refresh_from_db()
    assert point.is_verified
    event = ConsentEvent.objects.get(action="contact_verified", contact_point=point)
    assert event.actor == "public:confirm_link"
    assert event.evidence["proof"] == "link_to_address"
    assert "credit_card" in _email_key().permitted_topics
    assert client.post(path).status_code == 400  # spent


def test_a_tampered_or_stale_link_changes_nothing(client, customer):
    point = add_email(customer, "holder@example.com", verified=False)
    token = confirm_links.confirm_token(point)
    bad = reverse("portal:contact_confirm", args=[token[:-2] + "xx"])
    assert client.post(bad).status_code == 400
    # Removed and added again: a link sent before is void.
    services.contact_point_remove(
        contact_point=point, source="portal", actor=Actor.customer(customer)
    )
    services.contact_point_add(
        customer=customer,
        kind="email",
        address="holder@example.com",
        source="portal",
        actor=Actor.customer(customer),
    )
    point.refresh_from_db()
    point.created_at = point.created_at.replace(year=point.created_at.year + 1)
    point.save(update_fields=["created_at"])
    good_path = reverse("portal:contact_confirm", args=[token])
    assert client.post(good_path).status_code == 400
    point.refresh_from_db()
    assert not point.is_verified


# --- staff and import --------------------------------------------------------------


@pytest.mark.parametrize("source", ["staff", "import"])
def test_an_address_staff_or_an_import_adds_starts_unconfirmed_and_is_asked(
    client,
    source,
    outbox,
    email_channel,
    credit_card,
    notice_en,
    django_capture_on_commit_callbacks,
):
    customer = CustomerFactory()
    grant(customer, email_channel, credit_card, notice_en)
    sent = len(outbox)
    with django_capture_on_commit_callbacks(execute=True):
        point = services.contact_point_add(
            customer=customer,
            kind="email",
            address="imported@example.com",
            source=source,
            actor=Actor.system("test"),
        )
    assert not point.is_verified
    assert _email_key() is None
    assert len(outbox) == sent + 1
    message = outbox[-1]
    assert message.to == "imported@example.com"
    assert "confirm" in message.body.lower()
    client.post(_link_path(message.body))
    assert "credit_card" in _email_key().permitted_topics


def test_no_request_for_a_verified_or_portal_added_address(
    customer, outbox, django_capture_on_commit_callbacks
):
    sent = len(outbox)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        add_email(customer, "known@example.com", verified=True)
        services.contact_point_add(
            customer=customer,
            kind="email",
            address="typed@example.com",
            source="portal",
            actor=Actor.customer(customer),
        )
    assert callbacks == []
    assert len(outbox) == sent


# --- the matrix ----------------------------------------------------------------------


def test_matrix_disables_channels_without_a_confirmed_address(portal_client, customer):
    add_email(customer, "holder@example.com", verified=False)
    page = portal_client.get(PAGE).content.decode()
    # The customer holds a confirmed phone only.
    assert not re.search(r'id="cell-sms-credit_card"[^>]*disabled', page)
    assert re.search(
        r'id="cell-email-credit_card"[^>]*disabled'
        r'[^>]*aria-describedby="needs-address-email"',
        page,
    )
    assert 'id="needs-address-email"' in page
    assert "Add an address first" in page
    assert reverse("portal:contact_points") in page


def test_a_granted_cell_stays_switchable_off_without_an_address(
    portal_client, customer, email_channel, credit_card, notice_en
):
    grant(customer, email_channel, credit_card, notice_en)
    page = portal_client.get(PAGE).content.decode()
    assert not re.search(r'id="cell-email-credit_card"[^>]*disabled', page)
    response = portal_client.post(
        PAGE,
        {"notice_version": notice_en.pk, "shown": ["email:credit_card"], "cell": []},
    )
    assert response.status_code == 302
    assert ConsentState.objects.get(channel=email_channel).status == "withdrawn"


def test_a_forged_grant_without_a_confirmed_address_is_refused_and_changes_nothing(
    portal_client, customer, notice_en
):
    add_email(customer, "holder@example.com", verified=False)
    events = ConsentEvent.objects.count()
    feed = SuppressionChange.objects.count()
    response = portal_client.post(
        PAGE,
        {
            "notice_version": notice_en.pk,
            "cell": ["sms:credit_card", "email:credit_card"],
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "<title>Error:" in page
    assert "E-mail cannot be switched on" in page
    assert 'href="#needs-address-email"' in page
    assert ConsentEvent.objects.count() == events
    assert SuppressionChange.objects.count() == feed
    assert not ConsentState.objects.filter(customer=customer).exists()


def test_the_pages_speak_chinese(portal_client, customer, outbox):
    add_email(customer, "holder@example.com", verified=False)
    portal_client.cookies["django_language"] = "zh-hans"
    page = portal_client.get(PAGE).content.decode()
    assert "请先添加联系方式" in page and "电子邮件：没有已确认的联系方式。" in page
    listing = portal_client.get(reverse("portal:contact_points")).content.decode()
    assert "待确认" in listing and "重新发送验证码" in listing
    response = portal_client.post(
        reverse("portal:contact_point_add"),
        {"kind": "email", "address": "second@example.com"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 302
    assert "请确认您的联系方式" == outbox[-1].subject


def test_marketing_again_restores_nothing_on_a_channel_without_a_confirmed_address(
    portal_client, customer, sms, email_channel, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    grant(customer, email_channel, credit_card, notice_en)  # no e-mail address held
    portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    page = portal_client.get(reverse("portal:marketing_again")).content.decode()
    assert 'value="sms:credit_card"' in page
    assert 'value="email:credit_card"' not in page
    portal_client.post(
        reverse("portal:marketing_again"),
        {
            "confirm": "yes",
            "restore": ["sms:credit_card", "email:credit_card"],  # forged
            "notice_version": notice_en.pk,
        },
    )
    granted = set(
        ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel__code", "topic__code")
    )
    assert granted == {("sms", "credit_card")}


def test_no_request_and_no_confirmation_for_a_customer_no_longer_active(
    client, customer, outbox
):
    from preferences.services import contact_point_confirmation_request

    point = add_email(customer, "holder@example.com", verified=False)
    token = confirm_links.confirm_token(point)
    customer.status = "deceased"
    customer.save(update_fields=["status"])
    sent = len(outbox)
    assert contact_point_confirmation_request(contact_point_id=point.pk) is False
    assert len(outbox) == sent
    assert (
        client.post(reverse("portal:contact_confirm", args=[token])).status_code == 400
    )
    point.refresh_from_db()
    assert not point.is_verified
