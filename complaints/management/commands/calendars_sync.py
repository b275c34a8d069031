"""Add the days the installed holiday libraries know to the calendar tables."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from complaints.calendars import calendar_gaps, calendars_sync
from complaints.services import complaint_deadlines_refresh
from consent.ledger import Actor


class Command(BaseCommand):
    help = (
        "Seed holidays and make-up working days from `holidays` (UK, US) and "
        "`chinesecalendar` (CN); keeps staff edits; reports calendars that still "
        "do not cover the horizon."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until-year",
            type=int,
            default=None,
            help="Last year for the rule-based calendars (UK, US).",
        )

    def handle(self, *args, until_year=None, **options):
        added = calendars_sync(until_year=until_year)
        for code, count in added.items():
            self.stdout.write(f"{code}: {count} days added")
        moved = complaint_deadlines_refresh(actor=Actor.system("calendars_sync"))
        self.stdout.write(f"provisional deadlines recalculated: {moved}")
        for gap in calendar_gaps():
            self.stdout.write(
                self.style.WARNING(
                    f"{gap.code}: known until {gap.covered_until}, needed until "
                    f"{gap.needed_until}; enter the published days in admin"
                )
            )
