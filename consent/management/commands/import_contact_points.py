from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent.contact_import import contact_points_import
from consent.ledger import Actor


class Command(BaseCommand):
    help = (
        "Import phone numbers and e-mail addresses from a CSV file with the columns "
        "customer_ref,kind,address. Each starts unconfirmed (no marketing) and its "
        "holder is asked to confirm it by a code and a link."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="CSV file (UTF-8)")

    def handle(self, *args, file: str, **options) -> None:
        path = Path(file)
        try:
            content = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            report = contact_points_import(
                content=content,
                actor=Actor.system("import_contact_points"),
                source_name=path.name,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for row in report:
            if row["status"] != "added":
                self.stdout.write(f"line {row['line']}: {row['error']}")
        added = sum(1 for row in report if row["status"] == "added")
        self.stdout.write(
            self.style.SUCCESS(
                f"{added} of {len(report)} addresses added, waiting for confirmation."
            )
        )
