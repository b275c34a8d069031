"""The consent core's own Prometheus metrics and the cheap records they read.

Process-local metrics (histograms) are aggregated across gunicorn workers by
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``). Gauges that
describe shared state (feed head, sender lag) are read from the database when
Prometheus scrapes (``config/metrics.py``).
"""

from __future__ import annotations

from prometheus_client import Histogram

STOP_TO_FEED = Histogram(
    "consent_stop_to_feed_seconds",
    "From an inbound withdrawal's arrival to its feed row being committed.",
    ["effect"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Inbound event effects that withdraw something and so must reach the feed at once.
WITHDRAWING_EFFECTS = frozenset({"stop", "withdraw", "invalidate"})
