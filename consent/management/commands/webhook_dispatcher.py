from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = (
        "Queue webhook deliveries the moment feed rows commit (PostgreSQL LISTEN). "
        "Run one next to the Celery workers; the per-minute beat task is the "
        "safety net."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            help="Seconds between checks for retries that came due (default 5).",
        )

    def handle(self, *args, **options) -> None:
        from consent.feed_listener import feed_listen

        if connection.vendor != "postgresql":
            raise CommandError("The webhook dispatcher needs PostgreSQL.")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_a: stop.set())
        self.stdout.write("Listening for feed commits.")
        feed_listen(stop=stop, interval=options["interval"])
