from __future__ import annotations

import io

import pytest

from complaints.demo import seed_demo_complaints
from complaints.models import Complaint
from tests.factories import CustomerFactory, add_email

pytestmark = pytest.mark.django_db


def test_demo_complaints_in_several_states():
    for i in range(3):
        add_email(CustomerFactory(), f"demo{i}@example.com")
    out = io.StringIO()
    seed_demo_complaints(stdout=out)
    statuses = set(Complaint.objects.values_list("status", flat=True))
    assert {
        "acknowledged",
        "investigating",
        "resolved",
        "rejected",
        "closed",
    } <= statuses
    assert Complaint.objects.filter(satisfaction__isnull=False).exists()
    count = Complaint.objects.count()
    seed_demo_complaints(stdout=out)  # a second run adds nothing
    assert Complaint.objects.count() == count


def test_demo_dates_follow_the_receipt_and_letters_speak_the_customers_language():
    from datetime import timedelta

    for i in range(2):
        add_email(CustomerFactory(preferred_language="zh-hans"), f"zh{i}@example.com")
        add_email(CustomerFactory(preferred_language="en"), f"en{i}@example.com")
    seed_demo_complaints(stdout=io.StringIO())
    for c in Complaint.objects.all():
        assert c.received_at <= c.acknowledged_at <= c.received_at + timedelta(hours=1)
        if c.decided_at:
            assert c.received_at < c.decided_at <= c.decision_sent_at
        if c.closed_at:
            assert c.decided_at < c.closed_at
        if c.rated_at:
            assert c.closed_at < c.rated_at
        times = list(c.events.order_by("pk").values_list("at", flat=True))
        assert times == sorted(times), c.reference
        assert times[0] == c.received_at
    letters = [
        c.messages.get(kind="decision")
        for c in Complaint.objects.filter(decided_at__isnull=False)
    ]
    chinese = [
        m for m in letters if m.complaint.customer.preferred_language == "zh-hans"
    ]
    assert chinese
    for letter in chinese:
        assert "经核查" in letter.body and "Sending" not in letter.body
        assert "The campaign" not in letter.body
    for c in Complaint.objects.exclude(customer__preferred_language="zh-hans"):
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in c.description)


def test_demo_references_run_in_the_order_of_receipt():
    for i in range(3):
        add_email(CustomerFactory(), f"order{i}@example.com")
    seed_demo_complaints(stdout=io.StringIO())
    by_reference = list(
        Complaint.objects.order_by("reference").values_list("received_at", flat=True)
    )
    assert by_reference == sorted(by_reference)
