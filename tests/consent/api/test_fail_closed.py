"""The core fails closed at its edges: unverified addresses, look-alike digits and
domains, invisible characters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services
from consent.ledger import Actor
from consent.models import ConsentEvent, Contactability, ContactPoint
from preferences import services as portal
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/suppression/check"
CHANGES = "/api/v1/suppression/changes"
NOON_SHANGHAI = "2026-01-05T04:00:00Z"
VICTIM_PHONE = "+8613700137000"


def _check(api, recipients, channel="sms", topic="credit_card"):
    body = {
        "channel": channel,
        "topic": topic,
        "recipients": recipients,
        "at": NOON_SHANGHAI,
    }
    response = api.post(CHECK, body, format="json")
    assert response.status_code == 200
    return {r["recipient"]: r for r in response.json()["results"]}


def test_an_unverified_email_is_never_allowed_nor_published(
    api, email_channel, credit_card, notice_en
):
    attacker = CustomerFactory()
    add_email(attacker, "me@example.com")
    grant(attacker, email_channel, credit_card, notice_en)
    add_email(attacker, "victim@example.org", verified=False)

    result = _check(api, ["victim@example.org", "me@example.com"], channel="email")
    assert result["victim@example.org"]["allowed"] is False
    assert result["victim@example.org"]["reasons"] == ["no_consent"]
    assert result["me@example.com"]["allowed"] is True
    rows = api.get(CHANGES, {"channel": "email"}).json()["results"]
    assert "victim@example.org" not in {r["identifier"] for r in rows}


def test_nothing_set_through_an_unverified_address_touches_its_real_holder(
    api, sms, credit_card, notice_en
):
    victim = CustomerFactory()
    add_phone(victim, VICTIM_PHONE)
    grant(victim, sms, credit_card, notice_en)
    attacker = CustomerFactory()
    add_phone(attacker, "+8613900139111")
    add_phone(attacker, VICTIM_PHONE, verified=False)
    portal.care_pause_start(
        customer=attacker,
        ends_at=timezone.now() + timedelta(days=30),
        scope="marketing+collections",
        reason="hardship",
    )
    services.consent_opt_out_all(
        customer=attacker, source="portal", actor=Actor.customer(attacker)
    )
    portal.frequency_caps_set(customer=attacker, caps={sms: 1})

    assert _check(api, [VICTIM_PHONE])[VICTIM_PHONE]["allowed"] is True
    key = Contactability.objects.get(
        blind_index=ContactPoint.index_for("phone", VICTIM_PHONE), channel=sms
    )
    assert key.paused_until is None and key.max_per_week is None
    assert key.suppressed is False


def test_a_stop_from_the_real_holder_does_not_act_for_an_unverified_record(
    api, sms, credit_card, notice_en
):
    attacker = CustomerFactory()
    add_phone(attacker, "+8613900139111")
    grant(attacker, sms, credit_card, notice_en)
    add_phone(attacker, VICTIM_PHONE, verified=False)
    body = api.post(
        "/api/v1/events",
        {
            "type": "sms_reply",
            "event_id": "gw-uv",
            "recipient": VICTIM_PHONE,
            "text": "STOP",
        },
        format="json",
    ).json()
    assert body["customers"] == 0
    assert _check(api, ["+8613900139111"])["+8613900139111"]["allowed"] is True


@pytest.mark.parametrize(
    "look_alike",
    [
        "+8６１３７００１３７０００",  # full-width digits
        "+86137001370٠٠",  # Arabic-Indic digits
        "＋86 137\u200b0013\u200e7000",  # full-width plus, zero-width and bidi marks
    ],
)
def test_look_alike_digits_are_normalised_before_the_lookup(
    api, sms, credit_card, notice_en, look_alike
):
    customer = CustomerFactory()
    add_phone(customer, VICTIM_PHONE)
    grant(customer, sms, credit_card, notice_en)
    portal.care_pause_start(
        customer=customer,
        ends_at=timezone.now() + timedelta(days=30),
        scope="marketing",
        reason="illness",
    )
    result = _check(api, [VICTIM_PHONE, look_alike])
    assert result[VICTIM_PHONE]["allowed"] is False
    assert result[look_alike]["allowed"] is False
    assert result[look_alike]["reasons"] == result[VICTIM_PHONE]["reasons"]


def test_an_internationalised_domain_is_one_address_in_either_form(
    api, email_channel, credit_card, notice_en
):
    customer = CustomerFactory()
    add_email(customer, "wang@例子.中国")
    grant(customer, email_channel, credit_card, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=email_channel,
        topic=None,
        source="portal",
        actor=Actor.customer(customer),
    )
    ascii_form = "wang@xn--fsqu00a.xn--fiqs8s"
    point = ContactPoint.objects.get(customer=customer)
    assert point.address == ascii_form
    result = _check(
        api, ["WANG@例子.中国", ascii_form, "wang\u200b@例子.中国"], channel="email"
    )
    assert all(r["allowed"] is False and r["error"] is None for r in result.values())
    assert {tuple(r["reasons"]) for r in result.values()} == {("withdrawn",)}


def test_an_identifier_that_cannot_be_normalised_is_refused(api, sms):
    result = _check(api, ["+86 abc", "\u200b\u200b"])
    assert all(r["allowed"] is False and r["error"] for r in result.values())


def test_unverified_addresses_expire(customer, settings):
    settings.UNVERIFIED_CONTACT_DAYS = 7
    fresh = add_email(customer, "fresh@example.com", verified=False)
    stale = add_email(customer, "stale@example.com", verified=False)
    ContactPoint.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    assert services.contact_points_unverified_expire() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.removed_at is not None and fresh.removed_at is None
    assert ConsentEvent.objects.filter(
        contact_point=stale, action="contact_removed", source="system"
    ).exists()
