"""Holiday calendars in tables: seeded, editable, checked for coverage; deadlines
beyond a calendar's end are the earliest possible and say so."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from complaints import services
from complaints.checks import check_calendar_coverage
from complaints.deadlines import get_policy
from complaints.models import Calendar, CalendarDay, ComplaintMessage
from consent.ledger import Actor
from tests.complaints.conftest import local

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def test_calendars_are_seeded_from_the_libraries():
    cn = Calendar.objects.get(code="cn")
    assert cn.has_make_up_workdays
    assert cn.covered_until >= date(2026, 12, 31)
    assert cn.days.filter(day=date(2026, 2, 14), kind="workday").exists()
    assert cn.days.filter(day=date(2026, 10, 1), kind="holiday").exists()
    uk = Calendar.objects.get(code="uk")
    assert uk.covered_until >= date(2028, 12, 31)
    assert uk.days.filter(day=date(2027, 3, 26)).exists()  # Good Friday 2027
    assert uk.days.filter(day=date(2027, 8, 30)).exists()  # summer bank holiday
    us = Calendar.objects.get(code="us")
    assert us.days.filter(day=date(2027, 2, 15)).exists()  # Washington's Birthday


def test_us_deadlines_after_2026_skip_2027_federal_holidays(settings):
    settings.TIME_ZONE = "America/New_York"
    us = get_policy("us")
    received = datetime(2026, 12, 17, 10, tzinfo=NEW_YORK)
    # 15 days: Friday 1 Jan 2027, New Year's Day -> Monday 4 Jan.
    assert us.first_response_due(received).date() == date(2027, 1, 4)
    # 60 days: Monday 15 Feb 2027, Washington's Birthday -> Tuesday 16 Feb.
    assert us.due(received).date() == date(2027, 2, 16)
    assert not us.is_provisional(us.due(received))


def test_uk_eight_weeks_over_new_year_2027(settings):
    settings.TIME_ZONE = "Europe/London"
    uk = get_policy("uk")
    received = datetime(2026, 12, 24, 10, tzinfo=ZoneInfo("Europe/London"))
    # Summary resolution: 3 business days skipping 25, 28 Dec and the weekend.
    assert uk.first_response_due(received).date() == date(2026, 12, 31)


def test_cn_beyond_the_published_schedule_is_provisional_and_earliest(
    make_complaint, outbox
):
    Calendar.objects.filter(code="cn").update(covered_until=date(2026, 12, 31))
    complaint = make_complaint(received_at=local(2026, 12, 17, 10))
    assert complaint.policy == "cn"
    assert complaint.deadline_provisional
    # 1 Jan 2027 is not known yet: no day is skipped, the earliest date is used.
    assert complaint.due_at == local(2027, 1, 1, 23, 59, 59)
    ack = complaint.messages.get(kind=ComplaintMessage.Kind.ACKNOWLEDGEMENT)
    assert "not published yet" in ack.body


def test_entering_the_next_year_moves_provisional_deadlines(make_complaint):
    Calendar.objects.filter(code="cn").update(covered_until=date(2026, 12, 31))
    complaint = make_complaint(received_at=local(2026, 12, 17, 10))
    cn = Calendar.objects.get(code="cn")
    CalendarDay.objects.create(calendar=cn, day=date(2027, 1, 1), kind="holiday")
    cn.covered_until = date(2027, 12, 31)
    cn.save()
    moved = services.complaint_deadlines_refresh(actor=Actor.system("test"))
    assert moved == 1
    complaint.refresh_from_db()
    assert not complaint.deadline_provisional
    assert complaint.due_at == local(2027, 1, 4, 23, 59, 59)  # after the weekend
    assert complaint.events.filter(kind="deadline").count() == 1


def test_make_up_saturday_beyond_coverage_is_counted_as_a_working_day():
    Calendar.objects.filter(code="cn").update(covered_until=date(2026, 12, 31))
    cn = get_policy("cn")
    # 15 days after 1 Jan 2027 is Saturday 16 Jan: it might be worked, so no roll.
    assert cn.due(local(2027, 1, 1, 10)).date() == date(2027, 1, 16)
    assert cn.is_provisional(cn.due(local(2027, 1, 1, 10)))


def test_system_check_and_banner_warn_until_the_calendar_covers_120_days(
    staff_client, supervisor, settings
):
    settings.COMPLAINT_CALENDAR_HORIZON_DAYS = 120
    Calendar.objects.filter(code="cn").update(covered_until=date(2026, 12, 31))
    Calendar.objects.exclude(code="cn").update(covered_until=date(2099, 12, 31))
    today = date.today()
    if (date(2026, 12, 31) - today).days >= 120:
        Calendar.objects.filter(code="cn").update(covered_until=today)
    warnings = check_calendar_coverage()
    assert [w.id for w in warnings] == ["complaints.W001"]
    assert "cn" in warnings[0].msg
    client = staff_client(supervisor)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Holiday calendars do not cover the coming days" in page
    assert reverse("admin:complaints_calendar_changelist") in page
    Calendar.objects.filter(code="cn").update(covered_until=date(2099, 12, 31))
    assert check_calendar_coverage() == []
    page = client.get(reverse("admin:index")).content.decode()
    assert "Holiday calendars do not cover" not in page


def test_supervisor_edits_a_calendar_in_admin(staff_client, supervisor, make_complaint):
    Calendar.objects.filter(code="cn").update(covered_until=date(2026, 12, 31))
    complaint = make_complaint(received_at=local(2026, 12, 17, 10))
    cn = Calendar.objects.get(code="cn")
    client = staff_client(supervisor)
    url = reverse("admin:complaints_calendar_change", args=[cn.pk])
    assert client.get(url).status_code == 200
    existing = list(cn.days.order_by("-day").values_list("pk", "day", "kind", "name"))
    data = {
        "covered_until": "2027-12-31",
        "has_make_up_workdays": "on",
        "source": cn.source,
        "days-TOTAL_FORMS": str(len(existing) + 1),
        "days-INITIAL_FORMS": str(len(existing)),
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    for i, (pk, day, kind, name) in enumerate(existing):
        data.update(
            {
                f"days-{i}-id": pk,
                f"days-{i}-calendar": cn.pk,
                f"days-{i}-day": day.isoformat(),
                f"days-{i}-kind": kind,
                f"days-{i}-name": name,
            }
        )
    n = len(existing)
    data.update(
        {
            f"days-{n}-calendar": cn.pk,
            f"days-{n}-day": "2027-01-01",
            f"days-{n}-kind": "holiday",
            f"days-{n}-name": "元旦",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    complaint.refresh_from_db()
    assert complaint.due_at == local(2027, 1, 4, 23, 59, 59)


def test_calendars_sync_command_keeps_staff_days(capsys):
    cn = Calendar.objects.get(code="cn")
    CalendarDay.objects.create(calendar=cn, day=date(2027, 1, 1), kind="holiday")
    Calendar.objects.filter(code="cn").update(covered_until=date(2027, 12, 31))
    call_command("calendars_sync")
    cn.refresh_from_db()
    assert cn.covered_until == date(2027, 12, 31)  # never shrinks
    assert cn.days.filter(day=date(2027, 1, 1)).exists()
