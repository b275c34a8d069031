"""Long polling of the suppression feed: wait for the next row instead of polling.

On PostgreSQL a statement trigger on the feed table sends ``NOTIFY consent_feed`` and
PostgreSQL delivers it when the writing transaction commits, so a waiting reader
wakes within milliseconds of the commit. Elsewhere the wait is a short sleep loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import connection

from consent.models import SuppressionChange

CHANNEL = "consent_feed"
MAX_WAIT = 30
_SLEEP = 0.05


def _has_rows(after: int, channel_ids: Iterable[int]) -> bool:
    return SuppressionChange.objects.filter(
        channel_id__in=list(channel_ids), seq__gt=after
    ).exists()


def feed_wait(*, after: int, channel_ids: Iterable[int], seconds: float) -> bool:
    """Return as soon as a feed row after ``after`` exists on these channels (True),
    or after ``seconds`` (False)."""
    channel_ids = list(channel_ids)
    deadline = time.monotonic() + min(seconds, MAX_WAIT)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        while True:
            if _has_rows(after, channel_ids):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_SLEEP)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")  # before looking: no commit is missed
    try:
        while True:
            if _has_rows(after, channel_ids):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Any commit to the feed wakes us; rows of other channels loop back.
            for _note in connection.connection.notifies(
                timeout=remaining, stop_after=1
            ):
                break
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"UNLISTEN {CHANNEL}")
