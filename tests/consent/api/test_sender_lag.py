"""Sender lag: each client's last cursor and read time, its bound, "stale", alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import AnomalyAlert
from backoffice.roles import COMPLIANCE_OFFICER
from backoffice.tasks import sender_lag_check_task
from consent.api_clients import api_client_create
from consent.models import SenderFeedPosition
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/suppression/changes"
STATUS = "/api/v1/suppression/status"


@pytest.fixture
def feed(sms, credit_card, notice_en):
    customer = CustomerFactory()
    add_phone(customer, "+8613800000001")
    grant(customer, sms, credit_card, notice_en)
    return customer


@pytest.fixture
def officer(staff_user):
    return staff_user(COMPLIANCE_OFFICER, username="olga", email="olga@bank.example")


def _age(client, minutes: int) -> None:
    """Pretend the client last read ``minutes`` ago."""
    SenderFeedPosition.objects.filter(client=client).update(
        read_at=timezone.now() - timedelta(minutes=minutes)
    )
    cache.clear()


def test_a_feed_read_records_the_cursor_and_time_at_most_once_a_minute(
    api, sender, feed, sms, credit_card, notice_en
):
    client = sender[0]
    first = api.get(CHANGES, {"after": 0}).json()
    position = SenderFeedPosition.objects.get(client=client)
    assert position.cursor == first["last_seq"] > 0
    assert timezone.now() - position.read_at < timedelta(seconds=5)

    other = CustomerFactory()
    add_phone(other, "+8613800000002")
    grant(other, sms, credit_card, notice_en)
    with CaptureQueriesContext(connection) as queries:
        second = api.get(CHANGES, {"after": first["last_seq"]}).json()
    assert second["last_seq"] > first["last_seq"]
    assert not any("senderfeedposition" in q["sql"] for q in queries.captured_queries)
    position.refresh_from_db()
    assert position.cursor == first["last_seq"]

    _age(client, 2)
    api.get(CHANGES, {"after": first["last_seq"]})
    position.refresh_from_db()
    assert position.cursor == second["last_seq"]
    assert timezone.now() - position.read_at < timedelta(seconds=5)


def test_a_snapshot_records_its_feed_position(api, sender, feed):
    response = api.get("/api/v1/suppression/snapshot", {"channel": "sms"})
    b"".join(response.streaming_content)
    position = SenderFeedPosition.objects.get(client=sender[0])
    assert position.cursor == int(response["X-Feed-Seq"])


def test_status_tells_the_client_its_lag_and_bound(api, sender, feed):
    never = api.get(STATUS).json()
    assert never["status"] == "never"
    assert never["cursor"] is None and never["lag_seconds"] is None
    assert never["max_lag_seconds"] == 15 * 60

    page = api.get(CHANGES, {"after": 0}).json()
    current = api.get(STATUS).json()
    assert current["status"] == "current"
    assert current["cursor"] == page["last_seq"]
    assert 0 <= current["lag_seconds"] < 5

    _age(sender[0], 20)
    stale = api.get(STATUS).json()
    assert stale["status"] == "stale"
    assert stale["lag_seconds"] >= 20 * 60

    SenderFeedPosition.objects.filter(client=sender[0]).update(max_lag_minutes=30)
    assert api.get(STATUS).json()["status"] == "current"
    assert api.get(STATUS).json()["max_lag_seconds"] == 30 * 60


def test_the_schema_documents_failing_closed_when_stale(api):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/").content.decode()
    assert "Fail closed when stale" in schema
    assert "max_lag_seconds" in schema


def test_a_stale_sender_alerts_compliance_officers_once_per_spell(
    api, sender, feed, officer, outbox, django_capture_on_commit_callbacks
):
    client = sender[0]
    api.get(CHANGES, {"after": 0})
    assert sender_lag_check_task() == 0

    _age(client, 16)
    with django_capture_on_commit_callbacks(execute=True):
        assert sender_lag_check_task() == 1
    alert = AnomalyAlert.objects.get(rule=AnomalyAlert.Rule.SENDER_STALE)
    assert alert.username == client.name
    assert alert.count >= 16 and alert.threshold == 15
    sent = [m for m in outbox if m.purpose == "sender_stale"]
    assert [m.to for m in sent] == ["olga@bank.example"]
    assert client.name in sent[0].subject

    # Still stale: no second alert for the same spell.
    assert sender_lag_check_task() == 0

    # It reads again, then falls behind again: a new spell, a new alert.
    api.get(CHANGES, {"after": 0})
    assert SenderFeedPosition.objects.get(client=client).stale_alerted_at is None
    _age(client, 30)
    assert sender_lag_check_task() == 1
    assert AnomalyAlert.objects.filter(rule="sender_stale").count() == 2


def test_a_client_that_never_read_or_is_inactive_raises_nothing(officer):
    client, _issued = api_client_create(name="dialer", channel_codes=["voice"])
    assert sender_lag_check_task() == 0
    SenderFeedPosition.objects.create(
        client=client, cursor=0, read_at=timezone.now() - timedelta(days=1)
    )
    client.is_active = False
    client.save(update_fields=["is_active"])
    assert sender_lag_check_task() == 0


def test_the_admin_shows_a_stale_client_and_its_bound(
    api, sender, feed, staff_user, otp_admin_client
):
    client = sender[0]
    api.get(CHANGES, {"after": 0})
    _age(client, 20)
    admin = otp_admin_client(staff_user(COMPLIANCE_OFFICER))
    listing = admin.get("/admin/consent/apiclient/").content.decode()
    assert "stale (last read 20 min ago, bound 15 min)" in listing
    position = SenderFeedPosition.objects.get(client=client)
    response = admin.post(
        f"/admin/consent/apiclient/{client.pk}/change/",
        {
            "name": client.name,
            "is_active": "on",
            "rate_per_minute": client.rate_per_minute,
            "feed_position-TOTAL_FORMS": 1,
            "feed_position-INITIAL_FORMS": 1,
            "feed_position-0-client": client.pk,
            "feed_position-0-max_lag_minutes": 60,
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": client.keys.count(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    position.refresh_from_db()
    assert position.max_lag_minutes == 60
    listing = admin.get("/admin/consent/apiclient/").content.decode()
    assert "current (last read 20 min ago, bound 60 min)" in listing

    bad = admin.post(
        f"/admin/consent/apiclient/{client.pk}/change/",
        {
            "name": client.name,
            "is_active": "on",
            "rate_per_minute": client.rate_per_minute,
            "feed_position-TOTAL_FORMS": 1,
            "feed_position-INITIAL_FORMS": 1,
            "feed_position-0-client": client.pk,
            "feed_position-0-max_lag_minutes": 0,
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": client.keys.count(),
        },
    )
    assert bad.status_code == 200
    position.refresh_from_db()
    assert position.max_lag_minutes == 60
