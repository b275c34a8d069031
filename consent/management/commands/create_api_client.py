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
        parser.add_argument(
            "--profile-tags",
            action="store_true",
            help="Scope: the client may push and read its own customers' profile tags.",
        )

    def handle(self, *args, **options) -> None:
        try:
            client, issued = api_client_create(
                name=options["name"],
                channel_codes=options["channels"].split(","),
                rate_per_minute=options["rate_per_minute"],
                may_push_profile_tags=options["profile_tags"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        channels = ",".join(sorted(client.channels.values_list("code", flat=True)))
        scope = ", profile tags" if client.may_push_profile_tags else ""
        self.stdout.write(
            f"Client {client.name} (channels: {channels}{scope}); API key:"
        )
        self.stdout.write(issued.clear)
