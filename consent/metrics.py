"""The consent core's own Prometheus metrics and the cheap records they read.

Process-local metrics (histograms) are aggregated across gunicorn workers by
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``). Gauges that
describe shared state (feed head, sender lag) are read from the database and cache
when Prometheus scrapes (``config/metrics.py``).
"""

from __future__ import annotations

import time

from django.core.cache import cache
from prometheus_client import Histogram

STOP_TO_FEED = Histogram(
    "consent_stop_to_feed_seconds",
    "From an inbound withdrawal's arrival to its feed row being committed.",
    ["effect"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Inbound event effects that withdraw something and so must reach the feed at once.
WITHDRAWING_EFFECTS = frozenset({"stop", "withdraw", "invalidate"})

# A sender's read position is written at most this often (seconds) per client, so
# polling stays a read.
SENDER_READ_RESOLUTION = 60
SENDER_READ_KEY = "feed-reader:{client_id}"
SENDER_READ_TTL = 30 * 24 * 3600


def sender_read_record(*, client_id: int, cursor: int) -> None:
    """Remember how far a sending system has read the feed and when.

    ``cursor`` is the last seq it has after this page. One cache write per client
    per minute at most: the entry is rewritten only when older than that, or when
    the cursor moved backwards (a client that restarted from a snapshot)."""
    key = SENDER_READ_KEY.format(client_id=client_id)
    now = time.time()
    previous = cache.get(key)
    if previous is not None:
        old_cursor, old_at = previous
        if now - old_at < SENDER_READ_RESOLUTION and cursor >= old_cursor:
            return
    cache.set(key, (cursor, now), SENDER_READ_TTL)


def sender_reads(client_ids) -> dict[int, tuple[int, float]]:
    """``{client_id: (cursor, unix time)}`` for clients that have read the feed."""
    keys = {SENDER_READ_KEY.format(client_id=pk): pk for pk in client_ids}
    found = cache.get_many(list(keys))
    return {keys[k]: tuple(v) for k, v in found.items()}
