from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backoffice.keys import encrypted_fields, field_rotate, stale_rows
from consent import crypto


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field under the newest key (the first entry of "
        "FIELD_ENCRYPTION_KEYS), in batches. Resumable: rows already under the "
        "newest key are skipped. With --check, only count what is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--check",
            action="store_true",
            help="Count rows still under an older key; exit 1 if any.",
        )

    def handle(self, *args, **options):
        newest = crypto.current_key_id()
        fields = list(encrypted_fields())
        if options["check"]:
            left = 0
            for model, field in fields:
                count = stale_rows(model, field).count()
                left += count
                self.stdout.write(f"{model._meta.label}.{field}: {count} left")
            if left:
                raise CommandError(f"{left} value(s) are not under key {newest} yet.")
            self.stdout.write(self.style.SUCCESS(f"Everything is under key {newest}."))
            return
        total = 0
        for model, field in fields:
            pending = stale_rows(model, field).count()
            if not pending:
                continue
            with tqdm(
                total=pending,
                desc=f"{model._meta.label}.{field}",
                unit="row",
                file=self.stderr._out,
            ) as bar:
                total += field_rotate(
                    model=model,
                    field=field,
                    batch_size=options["batch_size"],
                    progress=bar.update,
                )
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {total} value(s) under key {newest}.")
        )
