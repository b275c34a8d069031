"""System check: every deadline policy's calendar must reach the horizon."""

from __future__ import annotations

from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from complaints.calendars import calendar_gaps


def check_calendar_coverage(app_configs=None, **kwargs) -> list[CheckWarning]:
    try:
        gaps = calendar_gaps()
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    return [
        CheckWarning(
            f"The {gap.code} holiday calendar is known until "
            f"{gap.covered_until or 'never'}, not until {gap.needed_until}: "
            "deadlines beyond it are provisional (the earliest possible date).",
            hint="Enter the published holidays and make-up working days in admin "
            "(Complaints > Holiday calendars) or run manage.py calendars_sync.",
            id="complaints.W001",
        )
        for gap in gaps
    ]
