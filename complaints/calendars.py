"""Holiday calendars for the deadline policies: seeding, loading and coverage.

The days live in ``Calendar`` / ``CalendarDay`` so staff can enter a year the
libraries do not know yet. China publishes its schedule (with weekend make-up working
days) each November for the next year; ``chinesecalendar`` carries the official
schedule up to the latest year it knows. The UK (England and Wales) and US federal
holidays follow fixed rules, which ``holidays`` computes for any year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

YEARS_AHEAD = 3  # rule-based calendars are seeded this many years past today
FIRST_YEAR = 2024

SOURCES = {
    "cn": "chinesecalendar (State Council schedule, with make-up working days)",
    "uk": "holidays (United Kingdom, England and Wales)",
    "us": "holidays (United States, federal)",
}


@dataclass(frozen=True)
class SeedDay:
    day: date
    kind: str  # "holiday" or "workday"
    name: str


def cn_days() -> tuple[list[SeedDay], date]:
    """China's official days and the last day of the last year published."""
    from chinese_calendar import constants

    days = [
        SeedDay(day, "holiday", str(name))
        for day, name in constants.holidays.items()
        if day.year >= FIRST_YEAR
    ]
    days += [
        SeedDay(day, "workday", str(name))
        for day, name in constants.workdays.items()
        if day.year >= FIRST_YEAR
    ]
    last_year = max(d.year for d in constants.holidays)
    return sorted(days, key=lambda d: d.day), date(last_year, 12, 31)


def rule_based_days(code: str, until_year: int) -> tuple[list[SeedDay], date]:
    import holidays

    years = range(FIRST_YEAR, until_year + 1)
    if code == "uk":
        calendar = holidays.country_holidays("GB", subdiv="ENG", years=years)
    else:
        calendar = holidays.country_holidays("US", years=years)
    days = [SeedDay(day, "holiday", str(name)[:100]) for day, name in calendar.items()]
    return sorted(days, key=lambda d: d.day), date(until_year, 12, 31)


def seed_days(
    code: str, *, until_year: int | None = None
) -> tuple[list[SeedDay], date]:
    if code == "cn":
        return cn_days()
    until_year = until_year or timezone.localdate().year + YEARS_AHEAD
    return rule_based_days(code, until_year)


def calendars_seed(
    calendar_model, day_model, *, codes=("cn", "uk", "us"), until_year=None
) -> dict[str, int]:
    """Add the libraries' days to the tables; staff edits to existing days stay.

    Works with the global models and with a migration's historical ones. Coverage
    only ever grows: a staff member who entered a year keeps it.
    """
    added: dict[str, int] = {}
    for code in codes:
        days, covered_until = seed_days(code, until_year=until_year)
        calendar, _created = calendar_model.objects.get_or_create(
            code=code,
            defaults={
                "covered_until": covered_until,
                "has_make_up_workdays": code == "cn",
                "source": SOURCES[code],
            },
        )
        if calendar.covered_until < covered_until:
            calendar.covered_until = covered_until
            calendar.save(update_fields=["covered_until", "updated_at"])
        known = set(calendar.days.values_list("day", flat=True))
        new = [
            day_model(calendar=calendar, day=d.day, kind=d.kind, name=d.name)
            for d in days
            if d.day not in known
        ]
        day_model.objects.bulk_create(new)
        added[code] = len(new)
    return added


@transaction.atomic
def calendars_sync(*, until_year: int | None = None) -> dict[str, int]:
    """Bring the tables up to what the installed libraries know."""
    from complaints.models import Calendar, CalendarDay

    return calendars_seed(Calendar, CalendarDay, until_year=until_year)


# --- reading -------------------------------------------------------------------------


def horizon_end(today: date | None = None) -> date:
    today = today or timezone.localdate()
    return today + timedelta(days=settings.COMPLAINT_CALENDAR_HORIZON_DAYS)


@dataclass(frozen=True)
class CoverageGap:
    code: str
    name: str
    covered_until: date | None
    needed_until: date


def calendar_gaps(today: date | None = None) -> list[CoverageGap]:
    """Each policy calendar that does not reach the horizon (or is missing)."""
    from complaints.deadlines import POLICIES
    from complaints.models import Calendar

    needed = horizon_end(today)
    known = {c.code: c for c in Calendar.objects.all()}
    gaps = []
    for code in POLICIES:
        calendar = known.get(code)
        if calendar is None or calendar.covered_until < needed:
            gaps.append(
                CoverageGap(
                    code=code,
                    name=str(Calendar.Code(code).label),
                    covered_until=calendar.covered_until if calendar else None,
                    needed_until=needed,
                )
            )
    return gaps
