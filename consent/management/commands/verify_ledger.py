"""Verify the consent ledger: its hash chain, its head, and its signed checkpoints
(the database's own and, with ``--checkpoints``, a copy exported earlier)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consent.checkpoints import checkpoint_as_dict, signing_key, verify_checkpoints
from consent.ledger import GENESIS_HASH, verify_chain
from consent.models import ConsentEvent, LedgerCheckpoint, LedgerHead


def _pages(size: int = 5000):
    """The ledger in seq order, fetched in keyset pages (no long-lived cursor)."""
    last = 0
    while True:
        page = list(ConsentEvent.objects.filter(seq__gt=last).order_by("seq")[:size])
        yield from page
        if len(page) < size:
            return
        last = page[-1].seq


def _read_export(path: str) -> tuple[str, list[dict]]:
    with open(path, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    if not lines or "public_key" not in lines[0]:
        raise CommandError(f"{path} is not a checkpoint export.")
    return lines[0]["public_key"], lines[1:]


class Command(BaseCommand):
    help = (
        "Walk the consent ledger's hash chain, compare its end with the head and the "
        "signed checkpoints, and report the first problem."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--checkpoints",
            metavar="FILE",
            help="An export from export_checkpoints kept outside the database.",
        )

    def handle(self, *args, checkpoints: str | None = None, **options) -> None:
        checked, broken = verify_chain(_pages())
        if broken is not None:
            raise CommandError(
                f"Ledger broken at seq {broken.seq}: {broken.reason} "
                f"({checked} rows before it are intact)."
            )
        head = LedgerHead.objects.filter(pk=1).first()
        last = ConsentEvent.objects.order_by("-seq").first()
        head_seq = head.ledger_seq if head else 0
        last_hash = last.hash if last else GENESIS_HASH
        if head and (head_seq != checked or head.ledger_hash != last_hash):
            raise CommandError(
                f"Ledger head says seq {head_seq} but the chain ends at {checked}: "
                "rows are missing from the end."
            )
        stored = [checkpoint_as_dict(cp) for cp in LedgerCheckpoint.objects.all()]
        sources = [("database", signing_key().public_b64, stored)]
        if checkpoints:
            sources.append((checkpoints, *_read_export(checkpoints)))
        for name, public_key, entries in sources:
            self._check_checkpoints(name, public_key, entries, checked)
        self._report_unsealed(checked, stored)

    def _check_checkpoints(
        self, name: str, public_key: str, entries: list[dict], checked: int
    ) -> None:
        positions = [e["ledger_seq"] for e in entries]
        hashes = dict(
            ConsentEvent.objects.filter(seq__in=positions).values_list("seq", "hash")
        )
        problems = verify_checkpoints(
            entries, public_key_b64=public_key, ledger_hashes=hashes
        )
        if problems:
            first = problems[0]
            raise CommandError(
                f"Checkpoint at seq {first.ledger_seq} ({name}): {first.reason}; "
                "the ledger was changed after it was sealed."
            )
        if entries and entries[-1]["ledger_seq"] > checked:
            raise CommandError(
                f"Checkpoint ({name}) sealed seq {entries[-1]['ledger_seq']} but the "
                f"ledger ends at {checked}: rows are missing from the end."
            )

    def _report_unsealed(self, checked: int, stored: list[dict]) -> None:
        sealed = stored[-1]["ledger_seq"] if stored else 0
        unsealed = checked - sealed
        message = f"Ledger intact: {checked} rows verified, {len(stored)} checkpoints."
        if unsealed:
            oldest = (
                ConsentEvent.objects.filter(seq=sealed + 1)
                .values_list("recorded_at", flat=True)
                .first()
            )
            age = (timezone.now() - oldest).total_seconds() if oldest else 0
            message += (
                f" {unsealed} rows not yet covered by a checkpoint "
                f"(oldest recorded {age:.0f} s ago)."
            )
        self.stdout.write(self.style.SUCCESS(message))
