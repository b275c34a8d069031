"""Prometheus at /metrics: only for allowed addresses; request metrics from
django-prometheus and the domain gauges operators alert on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from complaints import services as complaint_services
from complaints.models import Complaint
from consent.api_clients import api_client_create
from consent.ledger import Actor
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _scrape(**extra) -> dict[tuple, float]:
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def sender(db):
    client, issued = api_client_create(name="sms-gw", channel_codes=["sms"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return client, http


def _stop(http, event_id="gw-1", number="13800138000"):
    response = http.post(
        "/api/v1/events",
        {
            "type": "sms_reply",
            "event_id": event_id,
            "recipient": number,
            "text": "STOP",
        },
        format="json",
    )
    assert response.status_code == 201
    return response.json()


def test_metrics_are_refused_outside_the_allowed_addresses(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="11.1.2.3").status_code == 404


def test_request_metrics_from_django_prometheus():
    Client().get("/health/live")
    samples = _scrape()
    assert any(name.startswith("django_http_requests_") for name, _ in samples)


def test_stop_to_feed_latency_is_observed(sender):
    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    _client, http = sender
    before = _value(_scrape(), "consent_stop_to_feed_seconds_count", effect="stop") or 0
    _stop(http)
    _stop(http)  # an idempotent replay is not a second stop
    after = _value(_scrape(), "consent_stop_to_feed_seconds_count", effect="stop")
    assert after == before + 1


def test_feed_head_and_sender_position(
    sender, sms, credit_card, notice_en, monkeypatch
):
    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    grant(customer, sms, credit_card, notice_en)
    client, http = sender
    page = http.get("/api/v1/suppression/changes?channel=sms").json()
    samples = _scrape()
    assert _value(samples, "consent_feed_rows_total") >= page["last_seq"] > 0
    assert (
        _value(samples, "consent_sender_feed_cursor", client="sms-gw")
        == page["last_seq"]
    )
    assert (
        0
        <= _value(samples, "consent_sender_last_read_age_seconds", client="sms-gw")
        < 5
    )
    assert _value(samples, "consent_sender_feed_lag_seconds", client="sms-gw") == 0

    # A change it has not read makes it lag; reading it again catches up.
    seq = _stop(http)["feed_seq"]
    samples = _scrape()
    assert _value(samples, "consent_feed_rows_total") >= seq
    assert _value(samples, "consent_sender_feed_lag_seconds", client="sms-gw") > 0
    # The position is written at most once a minute per client: a minute later
    # the next read moves it.
    from datetime import timedelta

    from django.core.cache import cache
    from django.db.models import F

    from consent.models import SenderFeedPosition

    cache.delete(f"feed-read:{client.pk}")
    SenderFeedPosition.objects.filter(client=client).update(
        read_at=F("read_at") - timedelta(seconds=61)
    )
    http.get(f"/api/v1/suppression/changes?channel=sms&after={page['last_seq']}")
    samples = _scrape()
    assert _value(samples, "consent_sender_feed_cursor", client="sms-gw") == seq
    assert _value(samples, "consent_sender_feed_lag_seconds", client="sms-gw") == 0


def test_complaint_deadlines_at_risk(sms, credit_card):
    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    made = [
        complaint_services.complaint_create(
            source=Complaint.Source.PORTAL,
            description="Too many messages.",
            actor=Actor.customer(customer),
            customer=customer,
            channel=sms,
            topic=credit_card,
            category="other",
        )
        for _ in range(3)
    ]
    now = timezone.now()
    Complaint.objects.filter(pk=made[0].pk).update(due_at=now - timedelta(hours=1))
    Complaint.objects.filter(pk=made[1].pk).update(due_at=now + timedelta(hours=5))
    Complaint.objects.filter(pk=made[2].pk).update(due_at=now + timedelta(days=9))
    samples = _scrape()
    assert _value(samples, "consent_complaints_deadline", state="overdue") == 1
    assert _value(samples, "consent_complaints_deadline", state="due_soon") == 1


def test_celery_queue_depth_from_redis(settings):
    url = "redis://127.0.0.1:6379/14"
    settings.CELERY_BROKER_URL = url
    broker = redis.Redis.from_url(url)
    broker.delete("fast", "housekeeping", "celery")
    broker.rpush("fast", "a", "b", "c")
    broker.rpush("housekeeping", "x")
    try:
        samples = _scrape()
    finally:
        broker.delete("fast", "housekeeping", "celery")
    assert _value(samples, "consent_celery_queue_depth", queue="fast") == 3
    assert _value(samples, "consent_celery_queue_depth", queue="housekeeping") == 1
    assert _value(samples, "consent_celery_queue_depth", queue="celery") == 0


def test_metrics_text_carries_no_identifiers(sender):
    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    _client, http = sender
    _stop(http)
    text = Client().get("/metrics").content.decode()
    assert not re.search(r"13800138000", text)


def test_unsealed_ledger_rows(sender, sms, credit_card, notice_en):
    from consent.checkpoints import checkpoint_seal

    customer = CustomerFactory()
    add_phone(customer, "13800138000")
    grant(customer, sms, credit_card, notice_en)
    samples = _scrape()
    assert _value(samples, "consent_ledger_unsealed_rows") >= 2
    assert _value(samples, "consent_ledger_unsealed_age_seconds") >= 0
    checkpoint_seal()
    samples = _scrape()
    assert _value(samples, "consent_ledger_unsealed_rows") == 0
    assert _value(samples, "consent_ledger_unsealed_age_seconds") == 0
