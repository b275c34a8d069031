from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent.api_clients import api_client_create


class Command(BaseCommand):
    help = (
        "Register a sending system and print its new API key alone on the last line "
        "(shown once; only its hash is stored)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--channels", required=True, help="Comma-separated codes, e.g. sms,email."
        )
        parser.add_argument("--rate-per-minute", type=int, default=600)

    def handle(self, *args, **options) -> None:
        try:
            client, issued = api_client_create(
                name=options["name"],
                channel_codes=options["channels"].split(","),
                rate_per_minute=options["rate_per_minute"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        channels = ",".join(sorted(client.channels.values_list("code", flat=True)))
        self.stdout.write(f"Client {client.name} (channels: {channels}); API key:")
        self.stdout.write(issued.clear)
