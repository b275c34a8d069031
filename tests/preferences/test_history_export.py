from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.factories import grant

pytestmark = pytest.mark.django_db


def test_history_in_plain_words_newest_first(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    portal_client.post(reverse("portal:stop_all"), {"confirm": "yes"})
    page = portal_client.get(reverse("portal:history")).content.decode()
    stop = page.index("Stopped all marketing")
    agreed = page.index("Agreed to receive marketing about Credit cards by SMS")
    added = page.index("Added +86****8000")
    assert stop < agreed < added
    assert "Marketing consent notice v1" in page
    assert "Self-service portal" in page


def test_history_is_paginated(portal_client, customer, sms, credit_card, notice_en):
    from consent import services
    from consent.ledger import Actor

    for _ in range(12):
        grant(customer, sms, credit_card, notice_en)
        services.consent_withdraw(
            customer=customer,
            channel=sms,
            topic=credit_card,
            source="portal",
            actor=Actor.customer(customer),
        )
    page = portal_client.get(reverse("portal:history")).content.decode()
    assert "Page 1 of 2" in page
    page2 = portal_client.get(reverse("portal:history") + "?page=2").content.decode()
    assert "Page 2 of 2" in page2 and "Added +86****8000" in page2


def test_export_holds_everything_with_own_addresses_and_local_times(
    portal_client, customer, sms, credit_card, notice_en
):
    grant(customer, sms, credit_card, notice_en)
    portal_client.post(reverse("portal:personalisation"), {"refuse": "on"})
    response = portal_client.get(reverse("portal:export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["customer"]["reference"] == customer.external_ref
    # The customer's own data: their own address in full, not masked.
    assert data["contact_points"][0]["address"] == "+8613800138000"
    # Times in the customer's time zone (default Asia/Shanghai), not UTC.
    assert data["time_zone"] == "Asia/Shanghai"
    assert data["generated_at"].endswith("+08:00")
    assert data["ledger"][0]["occurred_at"].endswith("+08:00")
    assert data["consents"] == [
        {
            "channel": "sms",
            "topic": "credit_card",
            "status": "granted",
            "source": "portal",
            "updated_at": data["consents"][0]["updated_at"],
        }
    ]
    assert [e["action"] for e in data["ledger"]] == [
        "contact_added",
        "grant",
        "personalisation_set",
    ]
    assert data["ledger"][1]["notice_version"]["sha256"] == notice_en.sha256
    assert data["preferences"]["personalisation_allowed"] is False
    assert "complaints" in data


def test_delete_my_data_request_is_queued_once(portal_client, customer):
    from preferences.models import ErasureRequest

    portal_client.post(reverse("portal:my_data"))
    portal_client.post(reverse("portal:my_data"))
    assert (
        ErasureRequest.objects.filter(customer=customer, status="pending").count() == 1
    )
    page = portal_client.get(reverse("portal:my_data")).content.decode()
    assert "Staff are handling it" in page


def test_export_includes_the_customers_complaints(portal_client, customer):
    from complaints.services.intake import complaint_create
    from consent.ledger import Actor

    complaint = complaint_create(
        source="portal",
        description="Too many SMS at night",
        actor=Actor.customer(customer),
        customer=customer,
    )
    data = json.loads(portal_client.get(reverse("portal:export")).content)
    assert [c["reference"] for c in data["complaints"]] == [complaint.reference]
    assert data["complaints"][0]["description"] == "Too many SMS at night"
