"""Deadline policies: when a complaint must be acknowledged, answered and decided.

One product serves several regulators, so the rules are data chosen by the
``COMPLAINT_DEADLINE_POLICY`` setting (``cn`` by default, ``uk``, ``us``). A policy
is stored on each complaint at intake, so changing the setting later does not move
the deadlines of complaints already received.

Days are counted from the day after receipt (a complaint received at 23:50 does not
lose a day). A deadline ends at the end of its day in the site's time zone. Business
days skip weekends and the holidays of the policy's calendar (``Calendar`` table);
extra working days (China's make-up Saturdays and Sundays) count as business days.

Beyond the day up to which a calendar is known, every day that could be a working
day is taken as one, so the deadline is the earliest it could be; such a deadline
is marked provisional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class HolidayCalendar:
    """Which days are business days. ``covered_until`` None means known for ever."""

    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    covered_until: date | None = None
    has_make_up_workdays: bool = False

    def covers(self, day: date) -> bool:
        return self.covered_until is None or day <= self.covered_until

    def is_business_day(self, day: date) -> bool:
        if not self.covers(day):
            # Unknown: count it if it could be worked, for the earliest deadline.
            return self.has_make_up_workdays or day.weekday() < 5
        if day in self.extra_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_business_days(self, day: date, count: int) -> date:
        while count > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count -= 1
        return day

    def roll_forward(self, day: date) -> date:
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day


@dataclass(frozen=True)
class ExtensionStep:
    days: int
    needs_supervisor: bool


@dataclass(frozen=True)
class DeadlinePolicy:
    """The time limits of one regulator. Day counts run from the day after receipt."""

    code: str
    name: str
    final_days: int
    calendar: HolidayCalendar = field(default_factory=HolidayCalendar)
    final_in_business_days: bool = False
    roll_to_business_day: bool = False
    first_response_days: int | None = None
    first_response_in_business_days: bool = False
    extension_steps: tuple[ExtensionStep, ...] = ()
    ack_days: int = 0
    review_window_days: int = 30
    review_days: int = 30

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(settings.TIME_ZONE)

    def _local_date(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def _end_of(self, day: date) -> datetime:
        return datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)

    def _after(self, start: datetime, days: int, business: bool) -> datetime:
        day = self._local_date(start)
        if business:
            day = self.calendar.add_business_days(day, days)
        else:
            day = day + timedelta(days=days)
            if self.roll_to_business_day:
                day = self.calendar.roll_forward(day)
        return self._end_of(day)

    def ack_due(self, received_at: datetime) -> datetime:
        """Same day by default: a product promise, not a legal limit."""
        return self._after(received_at, self.ack_days, business=False)

    def first_response_due(self, received_at: datetime) -> datetime | None:
        if self.first_response_days is None:
            return None
        return self._after(
            received_at,
            self.first_response_days,
            business=self.first_response_in_business_days,
        )

    def days_for_step(self, step: int) -> int:
        if step == 0:
            return self.final_days
        return self.extension_steps[step - 1].days

    def is_provisional(self, deadline: datetime | None) -> bool:
        """Whether the deadline lies beyond the days the calendar knows."""
        if deadline is None:
            return False
        return not self.calendar.covers(self._local_date(deadline))

    def due(
        self,
        clock_started_at: datetime,
        *,
        extension_step: int = 0,
        paused: timedelta = timedelta(0),
    ) -> datetime:
        """The decision deadline; time paused (with the customer told) is added."""
        base = self._after(
            clock_started_at,
            self.days_for_step(extension_step),
            business=self.final_in_business_days,
        )
        return base + paused

    def next_extension(self, current_step: int) -> ExtensionStep | None:
        if current_step >= len(self.extension_steps):
            return None
        return self.extension_steps[current_step]

    def review_due(self, requested_at: datetime) -> datetime:
        return self._after(requested_at, self.review_days, business=False)

    def review_window_ends(self, decided_at: datetime) -> datetime:
        return self._after(decided_at, self.review_window_days, business=False)


def _calendar(code: str) -> HolidayCalendar:
    """The policy's calendar from the tables; none entered means nothing is known."""
    from complaints.models import Calendar, CalendarDay

    calendar = Calendar.objects.filter(code=code).first()
    if calendar is None:
        return HolidayCalendar(
            covered_until=date.min, has_make_up_workdays=code == "cn"
        )
    holidays, workdays = set(), set()
    for day, kind in CalendarDay.objects.filter(calendar=calendar).values_list(
        "day", "kind"
    ):
        (workdays if kind == CalendarDay.Kind.WORKDAY else holidays).add(day)
    return HolidayCalendar(
        holidays=frozenset(holidays),
        extra_workdays=frozenset(workdays),
        covered_until=calendar.covered_until,
        has_make_up_workdays=calendar.has_make_up_workdays,
    )


def _cn() -> DeadlinePolicy:
    # 2020 banking and insurance complaint rules: 15 days, extension to 30 for a
    # complex case, to 60 for an especially complex one (supervisor and notice); a
    # period whose last day is a rest day ends on the next working day (Civil Code
    # art. 203).
    return DeadlinePolicy(
        code="cn",
        name=str(_("China (NFRA 2020 complaint rules)")),
        final_days=15,
        roll_to_business_day=True,
        calendar=_calendar("cn"),
        extension_steps=(ExtensionStep(30, False), ExtensionStep(60, True)),
    )


def _uk() -> DeadlinePolicy:
    # FCA DISP 1.5/1.6: summary resolution by the end of the third business day after
    # receipt, final response within eight weeks.
    return DeadlinePolicy(
        code="uk",
        name=str(_("United Kingdom (FCA DISP)")),
        final_days=56,
        first_response_days=3,
        first_response_in_business_days=True,
        calendar=_calendar("uk"),
    )


def _us() -> DeadlinePolicy:
    # CFPB: respond within 15 days, final response within 60 days; a deadline on a
    # weekend or federal holiday moves to the next business day.
    return DeadlinePolicy(
        code="us",
        name=str(_("United States (CFPB)")),
        final_days=60,
        first_response_days=15,
        roll_to_business_day=True,
        calendar=_calendar("us"),
    )


POLICIES = {"cn": _cn, "uk": _uk, "us": _us}


def get_policy(code: str | None = None) -> DeadlinePolicy:
    """The named policy, or the configured one."""
    code = code or getattr(settings, "COMPLAINT_DEADLINE_POLICY", "cn")
    try:
        return POLICIES[code]()
    except KeyError:
        raise ValueError(f"Unknown complaint deadline policy {code!r}") from None


def review_due_after(start: datetime) -> datetime:
    """One business day after ``start``, at the same local time, on the configured
    policy's calendar (registered for the consent review queue)."""
    policy = get_policy()
    local = start.astimezone(policy.tz)
    day = policy.calendar.add_business_days(local.date(), 1)
    return datetime.combine(day, local.time(), tzinfo=policy.tz)
