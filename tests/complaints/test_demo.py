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
