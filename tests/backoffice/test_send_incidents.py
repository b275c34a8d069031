"""A send the audit finds not permitted opens an incident for compliance officers
and a complaint record, one per sending system, key and day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.models import SendIncident
from complaints.models import Complaint
from consent import services
from consent.api_clients import api_client_create
from consent.ledger import Actor
from consent.models import Violation
from tests.factories import grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
NUMBER = "+8613800138000"


def _noon(days_ago: int = 0) -> datetime:
    now = timezone.now().astimezone(ZoneInfo("Asia/Shanghai"))
    moment = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if moment > now:
        moment -= timedelta(days=1)
    return moment - timedelta(days=days_ago)


def _client(name: str) -> APIClient:
    _row, issued = api_client_create(name=name, channel_codes=["sms"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return http


def send(api, event_id, at, *, topic="credit_card"):
    response = api.post(
        EVENTS,
        {
            "type": "sent",
            "event_id": event_id,
            "channel": "sms",
            "recipient": NUMBER,
            "topic": topic,
            "occurred_at": at.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def withdrawn(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(customer),
        occurred_at=_noon(3),
    )
    return customer


def test_a_violation_opens_an_incident_and_a_complaint_once_per_sender_key_and_day(
    withdrawn, staff_user, outbox, django_capture_on_commit_callbacks
):
    officer = staff_user("compliance_officer", email="officer@bank.example")
    staff_user("complaint_handler")  # not told
    gateway = _client("sms-gateway")

    with django_capture_on_commit_callbacks(execute=True):
        body = send(gateway, "s-1", _noon(1))
    assert body["effect"] == "violation"
    violation = Violation.objects.get()
    incident = SendIncident.objects.get()
    assert incident.client.name == "sms-gateway" and incident.status == "open"
    assert incident.first_violation == violation and incident.violation_count == 1
    complaint = Complaint.objects.get()
    assert complaint.source == "send_audit"
    assert complaint.category == "unwanted_marketing"
    assert complaint.violation == violation
    assert complaint.customer is None
    assert body["complaints"] == [complaint.reference]
    # Compliance officers are told at once, and only they.
    alerts = [m for m in outbox if m.purpose == "send_incident"]
    assert [m.to for m in alerts] == [officer.email]
    assert "sms-gateway" in alerts[0].subject
    assert NUMBER not in alerts[0].body

    # The same sender, key and day: counted on the same incident and complaint.
    with django_capture_on_commit_callbacks(execute=True):
        again = send(gateway, "s-2", _noon(1) + timedelta(hours=1))
    assert again["complaints"] == [complaint.reference]
    assert SendIncident.objects.count() == 1 and Complaint.objects.count() == 1
    assert SendIncident.objects.get().violation_count == 2
    assert len([m for m in outbox if m.purpose == "send_incident"]) == 1

    # Another day, or another sender: a new incident.
    send(gateway, "s-3", _noon(0))
    send(_client("crm-batch"), "c-1", _noon(1))
    assert SendIncident.objects.count() == 3 and Complaint.objects.count() == 3


def test_a_permitted_send_opens_nothing(
    customer, phone_point, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    body = send(_client("sms-gateway"), "s-9", _noon(0))
    assert body["effect"] == "recorded"
    assert not SendIncident.objects.exists() and not Complaint.objects.exists()


def test_open_incidents_are_listed_by_sending_system_for_compliance(
    withdrawn, staff_user, otp_admin_client
):
    send(_client("sms-gateway"), "s-1", _noon(1))
    send(_client("crm-batch"), "c-1", _noon(1))
    officer = otp_admin_client(staff_user("compliance_officer"))
    url = "/admin/backoffice/sendincident/"
    page = officer.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "sms-gateway" in html and "crm-batch" in html
    assert NUMBER not in html

    closed = SendIncident.objects.get(client__name="crm-batch")
    response = officer.post(
        url,
        {"action": "close_incidents", "_selected_action": [closed.pk]},
    )
    assert response.status_code == 302
    closed.refresh_from_db()
    assert closed.status == "closed" and closed.closed_by
    listed = officer.get(url).context["cl"].result_list
    assert [i.client.name for i in listed] == ["sms-gateway"]
    everything = officer.get(url, {"status": "all"}).context["cl"].result_list
    assert {i.client.name for i in everything} == {"sms-gateway", "crm-batch"}

    # A customer-service handler cannot see them.
    handler = otp_admin_client(staff_user("complaint_handler"))
    assert handler.get(url).status_code == 403
