from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from consent.models import ApiClient, WebhookEndpoint
from consent.webhooks import webhook_endpoint_create


class Command(BaseCommand):
    help = (
        "Give a sending system a webhook and print its signing secret alone on the "
        "last line (shown once; stored encrypted)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--client", required=True, help="API client name")
        parser.add_argument("--url", required=True)
        parser.add_argument(
            "--after",
            type=int,
            default=None,
            help="Deliver feed rows after this seq (default: from now on).",
        )
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument(
            "--identifier-format",
            choices=WebhookEndpoint.IdentifierFormat.values,
            default=WebhookEndpoint.IdentifierFormat.CLEAR,
        )

    def handle(self, *args, **options) -> None:
        client = ApiClient.objects.filter(name=options["client"]).first()
        if client is None:
            raise CommandError(f"No API client named {options['client']!r}.")
        try:
            endpoint, secret = webhook_endpoint_create(
                client=client,
                url=options["url"],
                identifier_format=options["identifier_format"],
                batch_size=options["batch_size"],
                after=options["after"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Webhook for {client.name}, delivering after seq {endpoint.cursor}; "
            "signing secret:"
        )
        self.stdout.write(secret)
