"""Check a consent receipt a customer downloaded against the ledger and its signed
checkpoints."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from consent.receipts import receipt_verify


class Command(BaseCommand):
    help = (
        "Check a consent receipt (JSON): its signature, its ledger row's hash, that "
        "the ledger still holds that row, and the signed checkpoint that covers it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE", help="The receipt (JSON).")

    def handle(self, *args, file: str, **options) -> None:
        try:
            with open(file, encoding="utf-8") as handle:
                receipt = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        if not isinstance(receipt, dict):
            raise CommandError(f"{file} is not a consent receipt.")
        problems, notes = receipt_verify(receipt)
        for note in notes:
            self.stdout.write(f"note: {note}")
        if problems:
            raise CommandError("The receipt does not verify: " + "; ".join(problems))
        seq = receipt["ledger"]["seq"]
        sealed = receipt.get("checkpoint")
        self.stdout.write(
            self.style.SUCCESS(
                f"Receipt verified: ledger row {seq}"
                + (
                    f", covered by checkpoint {sealed['ledger_seq']}."
                    if sealed
                    else "."
                )
            )
        )
