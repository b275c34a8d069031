from __future__ import annotations

import pytest
from django.test import Client

from consent.models import Contactability, ContactPoint, SuppressedIdentifier
from preferences.models import NotMeReport
from preferences.services import MSG_CODE_WRONG
from tests.factories import CustomerFactory, add_phone

pytestmark = pytest.mark.django_db

START = "/not-me/"
CODE = "/not-me/code/"


def test_not_me_marks_every_holder_of_the_number_at_once(
    client, customer, phone_point, last_code
):
    other = CustomerFactory()
    add_phone(other, "13800138000")
    response = client.post(START, {"identifier": "+86 138 0013 8000"})
    assert response.url == CODE
    response = client.post(CODE, {"code": last_code()})
    assert response.status_code == 200
    assert "We will send no more messages to +86****8000" in response.content.decode()
    statuses = set(ContactPoint.objects.values_list("status", flat=True))
    assert statuses == {"not_me"}
    key = Contactability.objects.get(channel__code="sms")
    assert key.suppressed and key.reasons == ["not_me"] and key.permitted_topics == []
    assert key.changes.last().reasons == ["not_me"]
    report = NotMeReport.objects.get()
    assert report.contact_points == 2 and report.reviewed_at is None


def test_unknown_number_is_kept_suppressed_for_review(client, last_code):
    client.post(START, {"identifier": "13912345678"})
    client.post(CODE, {"code": last_code()})
    record = SuppressedIdentifier.objects.get()
    assert record.reason == "not_me" and record.review_pending
    key = Contactability.objects.get(channel__code="sms")
    assert key.identifier == "+8613912345678" and key.suppressed
    assert key.changes.count() == 1
    # A later import of the number stays suppressed.
    add_phone(CustomerFactory(), "13912345678")
    assert Contactability.objects.get(channel__code="sms").reasons == ["not_me"]


def test_wrong_code_changes_nothing(client, phone_point, last_code):
    client.post(START, {"identifier": "13800138000"})
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(CODE, {"code": wrong})
    assert str(MSG_CODE_WRONG) in response.content.decode()
    phone_point.refresh_from_db()
    assert phone_point.status == "active"
    assert not NotMeReport.objects.exists()


def test_invalid_number_is_refused(client, outbox):
    response = client.post(START, {"identifier": "not a number"})
    assert response.status_code == 200
    assert "Enter a valid phone number" in response.content.decode()
    assert outbox == []


def test_code_page_without_a_number_goes_back(client):
    assert client.get(CODE).url == START


def test_missing_csrf_is_refused(phone_point, outbox):
    response = Client(enforce_csrf_checks=True).post(
        START, {"identifier": "13800138000"}
    )
    assert response.status_code == 403 and outbox == []
