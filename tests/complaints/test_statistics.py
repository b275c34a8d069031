"""Statistics and hotspots on a known fixture."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from complaints.charts import bar_chart, line_chart
from complaints.models import Complaint
from complaints.selectors import complaint_hotspots, complaint_statistics
from tests.complaints.conftest import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def fixture(make_complaint, email_channel, personal_loan):
    def make(received, decided=None, late=False, score=None, root="", **kwargs):
        c = make_complaint(received_at=received, **kwargs)
        fields = {}
        if decided:
            fields.update(
                status="resolved",
                decided_at=decided,
                decision_sent_at=decided,
                due_at=decided - timedelta(hours=1)
                if late
                else decided + timedelta(days=1),
                root_cause=root,
            )
        if score:
            fields["satisfaction"] = score
        Complaint.objects.filter(pk=c.pk).update(**fields)
        return c

    make(
        local(2025, 3, 3, 9),
        local(2025, 3, 5, 9),
        score=4,
        root="frequency",
        category="too_frequent",
    )
    make(
        local(2025, 3, 4, 9),
        local(2025, 3, 10, 9),
        late=True,
        score=2,
        root="frequency",
        category="too_frequent",
    )
    make(
        local(2025, 3, 12, 9),
        local(2025, 3, 16, 9),
        category="bad_timing",
        channel=email_channel,
        topic=personal_loan,
    )
    make(local(2025, 3, 20, 9), category="other", channel=None, topic=None)


def test_statistics_numbers(fixture):
    s = complaint_statistics()
    assert s.total == 4
    assert dict(s.by_category) == {
        "Too frequent": 2,
        "Bad timing (night, hardship)": 1,
        "Other": 1,
    }
    assert dict(s.by_channel) == {"SMS": 2, "E-mail": 1, "—": 1}
    assert dict(s.by_product) == {"Credit cards": 2, "Personal loans": 1, "—": 1}
    assert dict(s.by_root_cause) == {"Frequency": 2}
    assert s.by_week == [
        (date(2025, 3, 3), 2),
        (date(2025, 3, 10), 1),
        (date(2025, 3, 17), 1),
    ]
    assert s.decided == 3
    assert s.median_days_to_resolve == 4.0
    assert (s.in_time, s.share_in_time) == (2, 0.667)
    assert (s.rated, s.satisfaction_mean) == (2, 3.0)
    assert dict(s.satisfaction_counts) == {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}


def test_statistics_date_range(fixture):
    s = complaint_statistics(date_from=date(2025, 3, 10), date_to=date(2025, 3, 12))
    assert s.total == 1
    assert s.median_days_to_resolve == 4.0


def test_hotspots_last_30_days_against_the_30_before(make_complaint, email_channel):
    now = timezone.now()
    for days in (5, 6, 40):
        make_complaint(received_at=now - timedelta(days=days), category="misleading")
    make_complaint(
        received_at=now - timedelta(days=3),
        category="too_frequent",
        channel=email_channel,
        topic=None,
    )
    spots = complaint_hotspots(now=now)
    assert [
        (h.category, h.channel, h.product, h.current, h.previous) for h in spots
    ] == [
        ("misleading", "SMS", "Credit cards", 2, 1),
        ("too_frequent", "E-mail", "—", 1, 0),
    ]
    assert spots[0].change == 1


def test_charts_escape_labels_and_use_no_inline_style():
    svg = bar_chart([("<b>x</b>", 3), ("y", 0)], title="T")
    assert "&lt;b&gt;" in svg and "style=" not in svg
    line = line_chart([("03-03", 2), ("03-10", 1)], title="W")
    assert "<polyline" in line and "style=" not in line
