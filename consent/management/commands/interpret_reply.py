from __future__ import annotations

from django.core.management.base import BaseCommand

from consent.keywords import interpret


class Command(BaseCommand):
    help = (
        "Show what an SMS reply would do (not_me, stop, start, help or none) without "
        "applying it. The effect is alone on the first line, for scripts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("text", help="The reply text, quoted.")

    def handle(self, *args, **options) -> None:
        reading = interpret(options["text"])
        self.stdout.write(reading.effect)
        if reading.matched:
            self.stdout.write(f"matched: {reading.matched}")
        if reading.needs_review:
            self.stdout.write("read from plain language: applied and queued for review")
