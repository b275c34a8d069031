from __future__ import annotations

from django.core.management.base import BaseCommand

from consent.checkpoints import checkpoint_seal, export_lines
from consent.models import LedgerCheckpoint


class Command(BaseCommand):
    help = (
        "Write the signed ledger checkpoints as JSON lines (public key first), to "
        "keep outside the database; verify_ledger --checkpoints FILE checks them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="File to write (default: stdout).")
        parser.add_argument(
            "--seal", action="store_true", help="Seal the latest rows first."
        )

    def handle(self, *args, output: str | None, seal: bool, **options) -> None:
        if seal:
            checkpoint_seal()
        lines = export_lines(LedgerCheckpoint.objects.order_by("ledger_seq"))
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                for line in lines:
                    handle.write(line + "\n")
        else:
            for line in lines:
                self.stdout.write(line)
