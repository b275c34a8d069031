"""``sent`` events: send records for frequency caps, violations, the purge task and
the compliance admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backoffice.admin_events import format_delay
from consent import services
from consent.contactability import Reason
from consent.ledger import Actor
from consent.models import (
    ConsentState,
    ContactPoint,
    InboundEvent,
    SendRecord,
    Violation,
)
from consent.tasks import send_record_purge_task
from preferences.models import FrequencyCap, Preference
from tests.factories import grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
NUMBER = "+8613800138000"


def send(
    api,
    event_id: str,
    *,
    topic: str = "credit_card",
    at: datetime | None = None,
    recipient: str = NUMBER,
):
    body = {
        "type": "sent",
        "event_id": event_id,
        "channel": "sms",
        "recipient": recipient,
        "topic": topic,
    }
    if at is not None:
        body["occurred_at"] = at.isoformat()
    response = api.post(EVENTS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _last(hour: int, tz: str = "Asia/Shanghai") -> datetime:
    """The latest moment at this local hour that is already past."""
    now = timezone.now().astimezone(ZoneInfo(tz))
    moment = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment if moment <= now else moment - timedelta(days=1)


def noon() -> datetime:
    """Outside the default quiet hours (21:00-08:00 Shanghai) whenever tests run."""
    return _last(12)


@pytest.fixture
def granted(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    return customer


def test_a_permitted_send_is_recorded_for_the_cap_without_violation(
    api, sender, granted, sms
):
    body = send(api, "s-1", at=noon())
    assert body["effect"] == "recorded" and body["violation"] is None
    record = SendRecord.objects.get()
    assert record.client == sender[0] and record.channel == sms
    assert record.blind_index == ContactPoint.index_for("phone", NUMBER)
    assert not Violation.objects.exists()


def test_a_send_after_a_withdrawal_is_a_violation_with_the_delay(
    api, sender, granted, sms, credit_card, monkeypatch
):
    withdrawn = noon() - timedelta(hours=2)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: withdrawn)
        services.consent_withdraw(
            customer=granted,
            channel=sms,
            topic=credit_card,
            source="portal",
            actor=Actor.customer(granted),
        )
    sent_at = noon()

    body = send(api, "s-2", at=sent_at)

    assert body["effect"] == "violation"
    assert body["violation"]["reasons"] == [Reason.WITHDRAWN]
    assert body["violation"]["delay_seconds"] == 7200
    violation = Violation.objects.get()
    assert violation.client == sender[0]
    assert violation.event == InboundEvent.objects.get(event_id="s-2")
    assert violation.reasons == [Reason.WITHDRAWN]
    assert violation.withdrawn_at == withdrawn
    assert violation.delay == sent_at - violation.withdrawn_at
    # The send still counts towards the cap.
    assert SendRecord.objects.count() == 1


def test_the_delay_counts_from_when_the_stop_was_sent_not_when_it_was_pushed(
    api, granted, sms, credit_card
):
    replied = noon() - timedelta(hours=3)
    api.post(
        EVENTS,
        {
            "type": "sms_reply",
            "event_id": "r-1",
            "recipient": NUMBER,
            "text": "TD",
            "occurred_at": replied.isoformat(),
        },
        format="json",
    )
    body = send(api, "s-2b", at=noon() - timedelta(hours=1))
    assert body["violation"]["reasons"] == [Reason.WITHDRAWN]
    assert body["violation"]["delay_seconds"] == 2 * 3600
    assert (
        ConsentState.objects.get(
            customer=granted, channel=sms, topic=credit_card
        ).event.occurred_at
        == replied
    )


def test_a_send_reported_late_that_happened_before_the_withdrawal_is_no_violation(
    api, granted, sms, credit_card
):
    services.consent_withdraw(
        customer=granted,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(granted),
    )
    body = send(api, "s-3", at=noon())
    assert body["effect"] == "recorded"
    assert not Violation.objects.exists()


def test_a_send_to_a_not_me_number_is_a_violation_even_for_service_topics(
    api, granted, phone_point
):
    services.contact_point_mark_not_me(
        contact_point=phone_point, source="portal", actor=Actor.public("not-me")
    )
    body = send(api, "s-4", topic="repayment_reminder")
    assert body["violation"]["reasons"] == [Reason.NOT_ME]
    assert body["violation"]["withdrawn_at"] is None
    # Service sends are not counted for marketing caps, so nothing is kept.
    assert not SendRecord.objects.exists()


def test_a_marketing_send_to_an_unknown_number_is_a_violation(api, sms):
    body = send(api, "s-5", recipient="13900139000", at=noon())
    assert body["violation"]["reasons"] == [Reason.NO_CONSENT]


def test_a_send_in_quiet_hours_is_a_violation(api, granted):
    Preference.objects.create(customer=granted, time_zone="Europe/London")
    services.contactability_publish(customer_ids=[granted.pk])
    body = send(api, "s-6", at=_last(23, "Europe/London"))
    assert body["violation"]["reasons"] == [Reason.QUIET_HOURS]
    assert send(api, "s-7", at=_last(12, "Europe/London"))["effect"] == "recorded"


def test_a_send_over_the_frequency_cap_is_a_violation(api, granted, sms):
    FrequencyCap.objects.create(customer=granted, channel=sms, max_per_week=2)
    services.contactability_publish(customer_ids=[granted.pk])
    assert send(api, "s-8", at=noon())["effect"] == "recorded"
    assert send(api, "s-9", at=noon() + timedelta(minutes=1))["effect"] == "recorded"
    body = send(api, "s-10", at=noon() + timedelta(minutes=2))
    assert body["violation"]["reasons"] == [Reason.FREQUENCY_CAP]
    assert SendRecord.objects.count() == 3


def test_a_repeated_sent_event_is_counted_once(api, granted):
    first = send(api, "s-11", at=noon())
    assert send(api, "s-11", at=noon()) == first
    assert SendRecord.objects.count() == 1


def test_purge_task_drops_send_records_older_than_the_cap_window(
    api, sender, granted, sms, credit_card
):
    now = timezone.now()
    for days in (8, 6, 1):
        SendRecord.objects.create(
            blind_index="x" * 64,
            channel=sms,
            topic=credit_card,
            client=sender[0],
            sent_at=now - timedelta(days=days),
        )
    deleted = send_record_purge_task.delay().get()
    assert deleted == 1
    left = list(SendRecord.objects.values_list("sent_at", flat=True))
    assert len(left) == 2
    assert all(now - sent_at < timedelta(days=7) for sent_at in left)


def test_violations_are_listed_for_compliance_officers(
    api, granted, sms, credit_card, django_user_model, client
):
    from django.contrib.auth.models import Group, Permission
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    services.consent_withdraw(
        customer=granted,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(granted),
    )
    send(api, "s-12")
    officer = django_user_model.objects.create_user(
        "officer", password="x" * 16, is_staff=True
    )
    group, _ = Group.objects.get_or_create(name="compliance_officer")
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=["view_violation", "view_inboundevent", "view_sendrecord"]
        )
    )
    officer.groups.add(group)
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    client.force_login(officer)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

    page = client.get("/admin/consent/violation/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "sms-gateway" in html and "withdrawn" in html and " min" in html
    assert client.get("/admin/consent/inboundevent/").status_code == 200
    assert client.get("/admin/consent/sendrecord/").status_code == 200
    violation = Violation.objects.get()
    detail = client.get(f"/admin/consent/violation/{violation.pk}/change/")
    assert detail.status_code == 200
    assert (
        client.post(f"/admin/consent/violation/{violation.pk}/delete/").status_code
        == 403
    )
    assert Violation.objects.count() == 1


def test_format_delay():
    assert format_delay(None) == "—"
    assert format_delay(timedelta(minutes=5)) == "5 min"
    assert format_delay(timedelta(hours=2, minutes=1)) == "2 h 1 min"
    assert format_delay(timedelta(days=3, minutes=4)) == "3 d 0 h 4 min"
