from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from consent import check_keys, hooks
from consent.ledger import Actor
from consent.models import ConsentEvent, ContactPoint
from consent.replay import (
    differences,
    ledger_projection,
    projection_rewrite,
    stored_projection,
)
from consent.unit import consent_change


class Command(BaseCommand):
    help = (
        "Replay the consent ledger and compare it with the consent state tables. "
        "With --fix, rewrite the tables from the ledger and republish contactability."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="Rewrite the projection."
        )

    def handle(self, *args, fix: bool, **options) -> None:
        expected = ledger_projection()
        diffs = differences(expected, stored_projection())
        for check in hooks.registry.projection_checks:
            other = check()
            if other and fix:
                raise CommandError(
                    "Preference tables differ from the ledger; --fix rewrites only "
                    "consent states: " + "; ".join(other[:5])
                )
            diffs += other
        narrow = check_keys.differences()
        diffs += narrow
        for line in diffs[:50]:
            self.stdout.write(line)
        if len(diffs) > 50:
            self.stdout.write(f"… and {len(diffs) - 50} more")
        if not diffs:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Projection matches the ledger ({len(expected.states)} consent "
                    f"states, {len(expected.opt_outs)} opt-outs)."
                )
            )
            return
        if not fix:
            raise CommandError(f"{len(diffs)} differences; run again with --fix.")
        if len(narrow) == len(diffs):
            self._rebuild_check_keys()
            return
        with consent_change(
            actor=Actor.system("rebuild_consent_state"),
            source=ConsentEvent.Source.SYSTEM,
        ) as change:
            projection_rewrite(expected)
            for blind_index in ContactPoint.objects.values_list(
                "blind_index", flat=True
            ).distinct():
                change.touch_identifier(blind_index)
        changes = change.feed
        self.stdout.write(
            self.style.SUCCESS(
                f"Projection rewritten from the ledger; {len(changes)} feed rows "
                "published."
            )
        )
        if narrow:
            self._rebuild_check_keys()

    def _rebuild_check_keys(self) -> None:
        count = check_keys.rebuild()
        self.stdout.write(
            self.style.SUCCESS(f"Check keys rewritten from {count} keys.")
        )
