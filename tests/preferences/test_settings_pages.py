from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import Contactability, SuppressionChange
from preferences.models import CarePause, FrequencyCap, Preference
from preferences.services import MSG_PAUSE_END
from preferences.tasks import care_pause_expire_task
from tests.factories import grant

pytestmark = pytest.mark.django_db


def _sms_key():
    return Contactability.objects.get(channel__code="sms")


def _last_sms_feed_row():
    return SuppressionChange.objects.filter(channel__code="sms").last()


def test_quiet_hours_and_language_are_saved_and_published(portal_client, customer):
    response = portal_client.post(
        reverse("portal:contact_settings"),
        {
            "quiet_start": "22:00",
            "quiet_end": "07:30",
            "time_zone": "Asia/Shanghai",
            "preferred_channel": "",
            "preferred_language": "zh-hans",
        },
    )
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "zh-hans"
    pref = Preference.objects.get(customer=customer)
    assert pref.quiet_hours() == {
        "start": "22:00",
        "end": "07:30",
        "tz": "Asia/Shanghai",
    }
    customer.refresh_from_db()
    assert customer.preferred_language == "zh-hans"
    assert _sms_key().quiet_hours["start"] == "22:00"
    assert _last_sms_feed_row().quiet_hours == {
        "start": "22:00",
        "end": "07:30",
        "tz": "Asia/Shanghai",
    }


def test_page_shows_the_default_quiet_hours(portal_client):
    page = portal_client.get(reverse("portal:contact_settings")).content.decode()
    assert 'value="21:00"' in page and 'value="08:00"' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"quiet_start": "25:00", "quiet_end": "07:00", "time_zone": "UTC"},
            "Enter a valid time.",
        ),
        (
            {"quiet_start": "22:00", "quiet_end": "07:00", "time_zone": "Mars/Base"},
            "Select a valid choice.",
        ),
        (
            {"quiet_start": "22:00", "quiet_end": "22:00", "time_zone": "UTC"},
            "The end must differ from the start.",
        ),
    ],
)
def test_bad_contact_settings_change_nothing(portal_client, customer, data, message):
    data = {**data, "preferred_language": "en", "preferred_channel": ""}
    response = portal_client.post(reverse("portal:contact_settings"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Preference.objects.filter(customer=customer).exists()


def test_frequency_caps_are_published_per_channel(portal_client, customer):
    before = _last_sms_feed_row().seq
    response = portal_client.post(
        reverse("portal:frequency"), {"cap_sms": "3", "cap_email": ""}
    )
    assert response.status_code == 302
    assert FrequencyCap.objects.get(customer=customer).max_per_week == 3
    assert _sms_key().max_per_week == 3
    assert _last_sms_feed_row().seq > before
    assert _last_sms_feed_row().max_per_week == 3
    portal_client.post(reverse("portal:frequency"), {"cap_sms": ""})
    assert _sms_key().max_per_week is None


@pytest.mark.parametrize("value", ["0", "101", "abc"])
def test_bad_frequency_cap_changes_nothing(portal_client, customer, value):
    response = portal_client.post(reverse("portal:frequency"), {"cap_sms": value})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not FrequencyCap.objects.exists()


def test_care_pause_holds_marketing_and_collections_until_the_date(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    until = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = portal_client.post(
        reverse("portal:care_pause"),
        {"until": until, "reason": "illness", "scope": "marketing+collections"},
    )
    assert response.status_code == 302
    key = _sms_key()
    assert key.suppressed and "care_pause" in key.reasons
    assert "collections" not in key.permitted_topics
    assert "security_alert" in key.permitted_topics
    row = _last_sms_feed_row()
    assert row.paused_until is not None and row.suppressed
    page = portal_client.get(reverse("portal:care_pause")).content.decode()
    assert "End the pause now" in page


@pytest.mark.parametrize("days", [None, 0, -3, 400])
def test_care_pause_needs_a_future_end_date(portal_client, customer, days):
    until = "" if days is None else (timezone.localdate() + timedelta(days=days))
    response = portal_client.post(
        reverse("portal:care_pause"),
        {"until": str(until), "reason": "hardship", "scope": "marketing"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "This field is required." in page or str(MSG_PAUSE_END) in page
    assert not CarePause.objects.exists()


def test_care_pause_keeps_no_free_text(portal_client):
    until = (timezone.localdate() + timedelta(days=5)).isoformat()
    response = portal_client.post(
        reverse("portal:care_pause"),
        {"until": until, "reason": "cancer", "scope": "marketing"},
    )
    assert response.status_code == 200
    assert not CarePause.objects.exists()


def test_care_pause_can_be_ended_early(portal_client, customer):
    until = (timezone.localdate() + timedelta(days=5)).isoformat()
    portal_client.post(
        reverse("portal:care_pause"),
        {"until": until, "reason": "other", "scope": "marketing"},
    )
    assert _sms_key().paused_until is not None
    portal_client.post(reverse("portal:care_pause"), {"action": "end"})
    assert _sms_key().paused_until is None
    assert CarePause.objects.get().cancelled_at is not None


def test_periodic_task_publishes_the_end_of_a_pause(customer, phone_point):
    from preferences import services

    services.care_pause_start(
        customer=customer,
        ends_at=timezone.now() + timedelta(days=1),
        scope="marketing",
        reason="bereavement",
    )
    assert _sms_key().paused_until is not None
    CarePause.objects.update(
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() - timedelta(minutes=1),
    )
    before = _last_sms_feed_row().seq
    assert care_pause_expire_task.delay().get() == 1
    assert _sms_key().paused_until is None
    assert _last_sms_feed_row().seq > before
    assert _last_sms_feed_row().paused_until is None
    assert CarePause.objects.get().expiry_processed_at is not None
    assert care_pause_expire_task.delay().get() == 0


def test_personalisation_refusal_is_published(portal_client, customer):
    response = portal_client.post(reverse("portal:personalisation"), {"refuse": "on"})
    assert response.status_code == 302
    assert Preference.objects.get(customer=customer).personalisation_allowed is False
    assert _sms_key().personalisation is False
    assert _last_sms_feed_row().personalisation is False
    portal_client.post(reverse("portal:personalisation"), {})
    assert _sms_key().personalisation is True


def test_dashboard_summarises_the_state(portal_client, customer):
    page = portal_client.get(reverse("portal:dashboard")).content.decode()
    assert "Marketing choices" in page and "0 choices switched on" in page
