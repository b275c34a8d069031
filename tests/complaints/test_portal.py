"""The customer's complaint pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from complaints import services
from complaints.models import Complaint
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_pages_need_sign_in(client, make_complaint):
    c = make_complaint()
    for url in (
        reverse("complaints:portal_list"),
        reverse("complaints:portal_create"),
        reverse("complaints:portal_detail", args=[c.reference]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("portal:sign_in")


def test_customer_sees_own_complaints_status_and_replies(
    portal_client, make_complaint, handler, django_assert_max_num_queries
):
    c = make_complaint()
    services.complaint_start_investigation(complaint=c, user=handler)
    services.complaint_reply(complaint=c, user=handler, text="We are on it.")
    services.complaint_note_add(complaint=c, author=handler, text="INTERNAL-ONLY")
    with django_assert_max_num_queries(12):
        listing = portal_client.get(reverse("complaints:portal_list"))
    assert c.reference in listing.content.decode()
    page = portal_client.get(reverse("complaints:portal_detail", args=[c.reference]))
    body = page.content.decode()
    assert "We are on it." in body
    assert "INTERNAL-ONLY" not in body
    assert "Investigating" in body


def test_another_customers_complaint_is_404(portal_client, sms, run_on_commit):
    other = CustomerFactory()
    theirs = run_on_commit(
        services.complaint_create,
        source="portal",
        description="mine",
        actor="x",
        customer=other,
        channel=sms,
        category="other",
    )
    for name in ("portal_detail",):
        assert (
            portal_client.get(
                reverse(f"complaints:{name}", args=[theirs.reference])
            ).status_code
            == 404
        )
    for name in ("portal_rate", "portal_add_info", "portal_review"):
        assert (
            portal_client.post(
                reverse(f"complaints:{name}", args=[theirs.reference]), {}
            ).status_code
            == 404
        )
    assert (
        theirs.reference
        not in portal_client.get(reverse("complaints:portal_list")).content.decode()
    )


def test_customer_rates_after_resolution(portal_client, investigating, handler):
    services.complaint_decide(
        complaint=investigating,
        outcome="upheld",
        findings="f",
        reasons="r",
        user=handler,
    )
    url = reverse("complaints:portal_rate", args=[investigating.reference])
    bad = portal_client.post(url, {"rate-score": "9"})
    assert bad.status_code == 302
    investigating.refresh_from_db()
    assert investigating.satisfaction is None
    portal_client.post(url, {"rate-score": "5", "rate-comment": "Quick"})
    investigating.refresh_from_db()
    assert (investigating.satisfaction, investigating.satisfaction_comment) == (
        5,
        "Quick",
    )


def test_customer_adds_facts_and_asks_for_review(portal_client, investigating, handler):
    url = reverse("complaints:portal_add_info", args=[investigating.reference])
    portal_client.post(url, {"info-text": "Another text arrived today."})
    assert investigating.events.filter(
        kind="new_facts", actor__startswith="customer:"
    ).exists()
    services.complaint_decide(
        complaint=investigating,
        outcome="not_upheld",
        findings="f",
        reasons="r",
        user=handler,
    )
    portal_client.post(
        reverse("complaints:portal_review", args=[investigating.reference]),
        {"review-reason": "I disagree"},
    )
    assert investigating.reviews.count() == 1
    assert Complaint.objects.get(pk=investigating.pk).status == "rejected"
