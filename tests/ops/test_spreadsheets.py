"""CSV formula injection: every CSV meant for people is neutralised; the snapshot
CSV, meant for machines, keeps identifiers byte-exact."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from backoffice.roles import COMPLIANCE_OFFICER
from backoffice.spreadsheets import spreadsheet_safe
from complaints import services as complaint_services
from complaints.models import Complaint
from consent.api_clients import api_client_create
from consent.ledger import Actor
from tests.factories import CustomerFactory, add_email, grant

pytestmark = pytest.mark.django_db

ATTACK = "=cmd|'/ccalc'!a0@example.com"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+86****8000", "'+86****8000"),
        ("-12", "-12"),
        ("+1.5", "+1.5"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (7, 7),
        (None, None),
    ],
)
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe


@pytest.fixture
def officer_client(staff_user, otp_admin_client):
    return otp_admin_client(staff_user(COMPLIANCE_OFFICER, username="olga"))


def test_admin_export_neutralises_formulas(officer_client):
    customer = CustomerFactory()
    point = add_email(customer, ATTACK)
    response = officer_client.post(
        "/admin/consent/contactpoint/",
        {"action": "export_masked_csv", "_selected_action": [point.pk]},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=***@example.com" in cells
    assert not [c for c in cells if c[:1] in ("=", "@", "\t", "\r")]
    assert not [c for c in cells if c[:1] in ("+", "-") and not c[1:].isdigit()]


def test_regulator_export_neutralises_formulas(officer_client, sms, credit_card):
    customer = CustomerFactory()
    complaint = complaint_services.complaint_create(
        source=Complaint.Source.PORTAL,
        description="x",
        actor=Actor.customer(customer),
        customer=customer,
        channel=sms,
        topic=credit_card,
        category="other",
    )
    # A root cause typed by staff is free text in some deployments' catalogues.
    Complaint.objects.filter(pk=complaint.pk).update(root_cause="=HYPERLINK(1)")
    response = officer_client.get(reverse("admin:complaints_complaint_export"))
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["root_cause"] == "'=HYPERLINK(1)"


# PostgreSQL streams the snapshot over its own connection: the rows must be committed.
@pytest.mark.django_db(transaction=True)
def test_snapshot_csv_keeps_identifiers_byte_exact(
    email_channel, credit_card, notice_en
):
    customer = CustomerFactory()
    add_email(customer, ATTACK)
    grant(customer, email_channel, credit_card, notice_en)
    _client, issued = api_client_create(name="mailer", channel_codes=["email"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    response = http.get(
        "/api/v1/suppression/snapshot", {"channel": "email", "format": "csv"}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[1] for r in rows[1:]] == [ATTACK]


def test_snapshot_documentation_warns_people(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    text = schema["paths"]["/api/v1/suppression/snapshot"]["get"]["description"]
    assert "byte-exact" in text and "spreadsheet" in text
