"""``/metrics``: django-prometheus' request, database and cache metrics, plus the
domain gauges below, read when Prometheus scrapes (a few indexed queries).

Only addresses in ``METRICS_ALLOWED_IPS`` (addresses or networks) may read it; any
other caller gets a plain 404, as if nothing were there.

- ``consent_stop_to_feed_seconds``: histogram, inbound withdrawal's arrival to its
  committed feed row;
- ``consent_feed_rows_total``: the feed head seq (``rate()`` is feed rows/second);
- ``consent_sender_feed_cursor``, ``consent_sender_last_read_age_seconds``: per API
  client, the last feed seq it read and how long ago (recorded at most once a
  minute);
- ``consent_sender_feed_lag_seconds``: per API client, the age of the oldest change
  in its channels it has not read (0 when caught up);
- ``consent_complaints_deadline{state="overdue"|"due_soon"}``: open complaints;
- ``consent_celery_queue_depth{queue}``: messages waiting (Redis broker).
"""

from __future__ import annotations

import ipaddress
import logging
import os

import prometheus_client
from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse
from django.utils import timezone
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)


def _allowed(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False)
        for net in settings.METRICS_ALLOWED_IPS
    )


class DomainCollector:
    """Gauges about shared state, computed from the database and cache."""

    def collect(self):
        # A scrape during a database outage still returns the process metrics.
        sections = (
            self._feed_and_senders,
            self._ledger,
            self._complaints,
            self._queues,
        )
        for section in sections:
            try:
                yield from list(section())
            except DatabaseError as exc:
                logger.warning(
                    "domain_metrics_unavailable", extra={"error": type(exc).__name__}
                )

    def _feed_and_senders(self):
        from consent.models import ApiClient, SenderFeedPosition, SuppressionChange

        head = SuppressionChange.objects.order_by("-seq").values_list("seq", flat=True)
        feed = CounterMetricFamily(
            "consent_feed_rows", "Suppression feed rows written (the feed head seq)."
        )
        feed.add_metric([], head.first() or 0)
        yield feed

        cursor = GaugeMetricFamily(
            "consent_sender_feed_cursor",
            "Last feed seq the sending system has read.",
            labels=["client"],
        )
        read_age = GaugeMetricFamily(
            "consent_sender_last_read_age_seconds",
            "Seconds since the sending system last read the feed.",
            labels=["client"],
        )
        lag = GaugeMetricFamily(
            "consent_sender_feed_lag_seconds",
            "Age of the oldest change in the client's channels it has not read.",
            labels=["client"],
        )
        clients = list(
            ApiClient.objects.filter(is_active=True).prefetch_related("channels")
        )
        # The positions the sync API records (consent.feed_positions), one row per
        # client, written at most once a minute.
        reads = {
            p.client_id: (p.cursor, p.read_at)
            for p in SenderFeedPosition.objects.filter(
                client__in=clients, read_at__isnull=False
            )
        }
        now = timezone.now()
        for client in clients:
            if client.pk not in reads:
                continue
            position, at = reads[client.pk]
            cursor.add_metric([client.name], position)
            read_age.add_metric([client.name], max(0.0, (now - at).total_seconds()))
            oldest = (
                SuppressionChange.objects.filter(
                    channel__in=[c.pk for c in client.channels.all()],
                    seq__gt=position,
                )
                .order_by("seq")
                .values_list("created_at", flat=True)
                .first()
            )
            waited = (timezone.now() - oldest).total_seconds() if oldest else 0.0
            lag.add_metric([client.name], max(0.0, waited))
        yield from (cursor, read_age, lag)

    def _ledger(self):
        from consent.models import ConsentEvent, LedgerCheckpoint

        sealed = (
            LedgerCheckpoint.objects.order_by("-ledger_seq")
            .values_list("ledger_seq", flat=True)
            .first()
            or 0
        )
        head = ConsentEvent.objects.order_by("-seq").values_list("seq", flat=True)
        unsealed = GaugeMetricFamily(
            "consent_ledger_unsealed_rows",
            "Ledger rows no signed checkpoint covers yet.",
        )
        unsealed.add_metric([], max(0, (head.first() or 0) - sealed))
        oldest = (
            ConsentEvent.objects.filter(seq=sealed + 1)
            .values_list("recorded_at", flat=True)
            .first()
        )
        age = GaugeMetricFamily(
            "consent_ledger_unsealed_age_seconds",
            "Age of the oldest ledger row no checkpoint covers (0: all sealed).",
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0)
        yield from (unsealed, age)

    def _complaints(self):
        from complaints.models import Complaint

        now = timezone.now()
        deadlines = GaugeMetricFamily(
            "consent_complaints_deadline",
            "Open complaints past or near their response deadline.",
            labels=["state"],
        )
        deadlines.add_metric(["overdue"], Complaint.objects.overdue(now).count())
        soon = Complaint.objects.due_within(settings.COMPLAINT_DUE_SOON_HOURS, now)
        deadlines.add_metric(["due_soon"], soon.count())
        yield deadlines

    def _queues(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        import redis

        depth = GaugeMetricFamily(
            "consent_celery_queue_depth",
            "Messages waiting in each Celery queue.",
            labels=["queue"],
        )
        try:
            client = redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=1
            )
            for queue in settings.CELERY_QUEUE_NAMES:
                depth.add_metric([queue], client.llen(queue))
        except redis.RedisError as exc:
            logger.warning(
                "queue_depth_unavailable", extra={"error": type(exc).__name__}
            )
            return
        yield depth


def metrics_view(request):
    if not _allowed(request):
        raise Http404
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    domain = prometheus_client.CollectorRegistry()
    domain.register(DomainCollector())
    body = prometheus_client.generate_latest(
        registry
    ) + prometheus_client.generate_latest(domain)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
