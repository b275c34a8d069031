"""Print the signed "report this message" URL for a customer, channel and topic."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from complaints.links import report_url
from consent.models import Channel, Customer, Topic


class Command(BaseCommand):
    help = "Print the absolute report-this-message link (base URL: SITE_BASE_URL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", required=True, help="customer reference")
        parser.add_argument("--channel", required=True, help="channel code, e.g. sms")
        parser.add_argument("--topic", default="", help="topic code (optional)")

    def handle(self, *args, customer: str, channel: str, topic: str, **options) -> None:
        found_customer = Customer.objects.filter(external_ref=customer).first()
        found_channel = Channel.objects.filter(code=channel).first()
        found_topic = Topic.objects.filter(code=topic).first() if topic else None
        if found_customer is None:
            raise CommandError(f"No customer with reference {customer!r}.")
        if found_channel is None:
            raise CommandError(f"No channel {channel!r}.")
        if topic and found_topic is None:
            raise CommandError(f"No topic {topic!r}.")
        self.stdout.write(
            report_url(
                customer=found_customer, channel=found_channel, topic=found_topic
            )
        )
