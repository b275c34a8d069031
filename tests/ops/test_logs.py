"""JSON logs: one line per request and per task, with a request id, and never a
seeded phone number, e-mail address or name, through a full portal and API flow."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from config.logs import scrub_personal_data
from consent.api_clients import api_client_create
from consent.links import unsubscribe_url
from tests.factories import CustomerFactory, add_email, add_phone

pytestmark = pytest.mark.django_db

PHONE_NATIONAL = "13800138000"
PHONE_E164 = "+8613800138000"
EMAIL = "alice.chen@example.com"
NAME = "陈爱丽 Alice Chen"


@pytest.fixture
def log_lines():
    """Every record, as formatted by the project's own JSON formatter."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    cache.clear()
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)
    cache.clear()


def test_full_flow_logs_no_personal_data(log_lines, outbox, sms, credit_card):
    customer = CustomerFactory(preferred_language="en")
    customer.display_name = NAME
    customer.save()
    add_phone(customer, PHONE_NATIONAL)
    add_email(customer, EMAIL)

    portal = Client()
    requests = 0
    portal.post("/sign-in/", {"identifier": PHONE_NATIONAL})
    code = re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)
    portal.post("/sign-in/code/", {"code": code})
    portal.get("/account/")
    portal.get("/account/contact-points/")
    portal.get("/account/my-data/export.json")
    portal.post("/account/preferences/stop-all/")
    portal.post("/sign-in/", {"identifier": EMAIL})
    link = unsubscribe_url(customer=customer, channel=sms, topic=credit_card)
    portal.get(link.split("8000", 1)[-1] if "://" in link else link)
    portal.get(f"/not-a-page/{EMAIL}")
    requests += 9

    _client, issued = api_client_create(name="gw", channel_codes=["sms", "email"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    api.get("/api/v1/suppression/changes?channel=sms")
    api.post(
        "/api/v1/suppression/check",
        {"channel": "sms", "topic": "credit_card", "recipients": [PHONE_E164, EMAIL]},
        format="json",
    )
    api.post(
        "/api/v1/events",
        {
            "type": "sms_reply",
            "event_id": "gw-1",
            "recipient": PHONE_NATIONAL,
            "text": "STOP",
        },
        format="json",
    )
    api.get(f"/api/v1/suppression/{PHONE_E164}")
    requests += 4

    lines = log_lines()
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (
        PHONE_NATIONAL,
        PHONE_E164,
        "138 0013 8000",
        EMAIL,
        "陈爱丽",
        "Alice",
    ):
        assert secret not in text, secret
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert len(finished) == requests
    assert all(line["request_id"] for line in finished)
    assert len({line["request_id"] for line in finished}) == requests
    assert "POST /sign-in/" in {line["request"] for line in finished}
    assert "GET /u/<str:token>" in {line["request"] for line in finished}
    assert "GET <unmatched>" in {line["request"] for line in finished}
    # The sign-in code went through a task: one line for it, tied to the request.
    tasks = [line for line in lines if line["event"].startswith("task_")]
    sent = [t for t in tasks if t.get("task") == "consent.tasks.send_message_task"]
    assert sent and all(t["event"] == "task_succeeded" for t in sent)
    assert {t["request_id"] for t in sent} <= {line["request_id"] for line in finished}
    assert not [line for line in lines if line["event"] == "request_started"]


def test_scrubber_masks_addresses_in_any_message():
    event = {
        "event": f"could not reach {EMAIL} or {PHONE_E164} (138-0013-8000)",
        "timestamp": "2026-12-02T10:00:00Z",
        "request_id": "5f0c8c1e-1234-4321-8888-123456789012",
    }
    scrubbed = scrub_personal_data(None, "info", dict(event))
    assert scrubbed["event"] == "could not reach [email] or [number] ([number])"
    assert scrubbed["timestamp"] == event["timestamp"]
    assert scrubbed["request_id"] == event["request_id"]
