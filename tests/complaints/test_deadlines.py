"""Deadline policies at month ends, holidays and make-up working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.deadlines import HolidayCalendar, get_policy
from tests.complaints.conftest import local

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def due_date(policy, received, **kwargs) -> date:
    return policy.due(received, **kwargs).astimezone(policy.tz).date()


def test_default_policy_is_cn(settings):
    settings.COMPLAINT_DEADLINE_POLICY = "cn"
    assert get_policy().code == "cn"


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        get_policy("xx")


# --- China ------------------------------------------------------------------------


def test_cn_counts_15_calendar_days_from_the_day_after_receipt():
    cn = get_policy("cn")
    due = cn.due(local(2025, 3, 31, 23, 50))
    assert due == local(2025, 4, 15, 23, 59, 59)


def test_cn_receipt_is_the_local_day_not_the_utc_day():
    cn = get_policy("cn")
    received = datetime(2025, 3, 31, 17, 0, tzinfo=ZoneInfo("UTC"))  # 1 April, 01:00
    assert due_date(cn, received) == date(2025, 4, 16)


def test_cn_deadline_on_a_holiday_moves_to_the_next_working_day():
    cn = get_policy("cn")
    # 15 days after 20 Jan 2025 is 4 Feb, the last day of the Spring Festival break.
    assert due_date(cn, local(2025, 1, 20, 10)) == date(2025, 2, 5)


def test_cn_deadline_over_a_month_end_on_a_weekend_moves_to_monday():
    cn = get_policy("cn")
    # 31 Jan + 15 = Saturday 15 Feb.
    assert due_date(cn, local(2025, 1, 31, 9)) == date(2025, 2, 17)


def test_cn_make_up_saturday_is_a_working_day():
    cn = get_policy("cn")
    # 24 Jan + 15 = Saturday 8 Feb 2025, a make-up working day.
    assert due_date(cn, local(2025, 1, 24, 9)) == date(2025, 2, 8)


def test_cn_national_day_week_2026():
    cn = get_policy("cn")
    assert due_date(cn, local(2026, 9, 20, 9)) == date(2026, 10, 8)


def test_cn_extension_steps_are_30_then_60_days_the_last_needs_a_supervisor():
    cn = get_policy("cn")
    received = local(2025, 3, 3, 9)
    assert due_date(cn, received, extension_step=1) == date(2025, 4, 2)
    assert due_date(cn, received, extension_step=2) == date(2025, 5, 6)  # 2 May holiday
    assert [s.needs_supervisor for s in cn.extension_steps] == [False, True]
    assert cn.next_extension(2) is None


def test_cn_paused_time_is_added():
    cn = get_policy("cn")
    received = local(2025, 3, 3, 9)
    assert cn.due(received, paused=timedelta(days=4)) == cn.due(received) + timedelta(
        days=4
    )


def test_acknowledgement_is_due_the_same_day():
    cn = get_policy("cn")
    assert cn.ack_due(local(2025, 3, 3, 9)) == local(2025, 3, 3, 23, 59, 59)


def test_a_holiday_entered_by_staff_counts():
    from complaints.models import Calendar, CalendarDay

    CalendarDay.objects.create(
        calendar=Calendar.objects.get(code="cn"), day=date(2025, 3, 3), kind="holiday"
    )
    cn = get_policy("cn")
    # 16 Feb + 15 = Monday 3 March, configured as a holiday.
    assert due_date(cn, local(2025, 2, 16, 9)) == date(2025, 3, 4)


def test_review_window_and_review_deadline_are_30_days():
    cn = get_policy("cn")
    decided = local(2025, 3, 3, 9)
    assert cn.review_window_ends(decided).date() == date(2025, 4, 2)
    assert cn.review_due(decided).date() == date(2025, 4, 2)


# --- United Kingdom ---------------------------------------------------------------


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"
    return get_policy("uk")


def test_uk_summary_resolution_skips_easter(london):
    received = datetime(2025, 4, 17, 16, tzinfo=LONDON)  # Thursday before Good Friday
    first = london.first_response_due(received).date()
    assert first == date(2025, 4, 24)


def test_uk_summary_resolution_over_a_month_end(london):
    received = datetime(2025, 8, 28, 10, tzinfo=LONDON)
    assert london.first_response_due(received).date() == date(2025, 9, 2)


def test_uk_summary_resolution_after_a_bank_holiday_weekend(london):
    received = datetime(2025, 8, 22, 10, tzinfo=LONDON)  # Friday; Monday is a holiday
    assert london.first_response_due(received).date() == date(2025, 8, 28)


def test_uk_final_response_is_eight_weeks(london):
    received = datetime(2025, 1, 31, 10, tzinfo=LONDON)
    assert due_date(london, received) == date(2025, 3, 28)
    assert london.extension_steps == ()


# --- United States ----------------------------------------------------------------


@pytest.fixture
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"
    return get_policy("us")


def test_us_first_response_on_thanksgiving_moves_to_friday(new_york):
    received = datetime(2025, 11, 12, 10, tzinfo=NEW_YORK)
    assert new_york.first_response_due(received).date() == date(2025, 11, 28)


def test_us_first_response_over_a_month_end_on_sunday(new_york):
    received = datetime(2025, 5, 17, 10, tzinfo=NEW_YORK)
    assert new_york.first_response_due(received).date() == date(2025, 6, 2)


def test_us_final_response_on_independence_day_moves_to_monday(new_york):
    received = datetime(2025, 5, 5, 10, tzinfo=NEW_YORK)
    assert due_date(new_york, received) == date(2025, 7, 7)


def test_business_day_arithmetic():
    calendar = HolidayCalendar(
        holidays=frozenset({date(2025, 12, 25), date(2025, 12, 26)}),
        extra_workdays=frozenset({date(2025, 12, 27)}),
    )
    assert calendar.add_business_days(date(2025, 12, 24), 1) == date(2025, 12, 27)
    assert calendar.add_business_days(date(2025, 12, 24), 2) == date(2025, 12, 29)
    assert calendar.roll_forward(date(2025, 12, 25)) == date(2025, 12, 27)
