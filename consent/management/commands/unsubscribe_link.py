"""Print the one-click unsubscribe URL for a customer, channel and topic."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from consent.links import unsubscribe_url
from consent.models import Channel, Customer, Topic


class Command(BaseCommand):
    help = "Print the absolute one-click unsubscribe link (base URL: SITE_BASE_URL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", required=True, help="customer reference")
        parser.add_argument("--channel", required=True, help="channel code, e.g. sms")
        parser.add_argument("--topic", required=True, help="marketing topic code")

    def handle(self, *args, customer: str, channel: str, topic: str, **options) -> None:
        try:
            found_customer = Customer.objects.get(external_ref=customer)
            found_channel = Channel.objects.get(code=channel)
            found_topic = Topic.objects.get(code=topic, kind=Topic.Kind.MARKETING)
        except Customer.DoesNotExist as exc:
            raise CommandError(f"No customer with reference {customer!r}.") from exc
        except Channel.DoesNotExist as exc:
            raise CommandError(f"No channel {channel!r}.") from exc
        except Topic.DoesNotExist as exc:
            raise CommandError(f"No marketing topic {topic!r}.") from exc
        self.stdout.write(
            unsubscribe_url(
                customer=found_customer, channel=found_channel, topic=found_topic
            )
        )
