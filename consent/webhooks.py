"""Push delivery of the suppression feed to sending systems (webhooks).

Each API client may have one webhook. Feed rows on the client's channels after its
delivered cursor are POSTed in batches, in ``seq`` order, one batch at a time, signed
with the Standard Webhooks scheme (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; the ``standardwebhooks`` library). The cursor moves only when
the receiver answers 2xx, so delivery is at least once: a receiver applies rows
with a ``seq`` above the last it applied and ignores the rest. A failed batch is
retried after an exponential backoff (``WEBHOOK_RETRY_BASE_SECONDS`` doubling up to
``WEBHOOK_RETRY_MAX_SECONDS``), every attempt is logged (``WebhookDelivery``), and
staff can pause, resume and replay from an earlier cursor in the admin.

A lease on the endpoint row keeps one delivery per webhook at a time, without a
transaction held open across the HTTP call.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from standardwebhooks import Webhook

from consent import crypto, selectors
from consent.feed_positions import sender_feed_read_record
from consent.models import (
    ApiClient,
    SuppressionChange,
    WebhookDelivery,
    WebhookEndpoint,
)
from consent.task_names import task

EVENT_TYPE = "suppression.changes"
SECRET_PREFIX = "whsec_"
USER_AGENT = "consent-centre-webhooks/1"

MSG_REPLAY_AHEAD = _(
    "A replay can only go back: choose a seq at or below the delivered cursor "
    "(%(cursor)d)."
)
MSG_REPLAY_NEGATIVE = _("The seq must be 0 or more.")
MSG_HAS_WEBHOOK = _("This client already has a webhook.")
MSG_URL_SCHEME = _("The URL must start with https:// (or http:// for local tests).")


def webhook_secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_secret(endpoint: WebhookEndpoint) -> str:
    return crypto.decrypt(endpoint.secret_encrypted)


def _channel_map(client: ApiClient) -> dict[int, str]:
    return dict(client.channels.filter(is_active=True).values_list("id", "code"))


# --- staff operations ---------------------------------------------------------------


@transaction.atomic
def webhook_endpoint_create(
    *,
    client: ApiClient,
    url: str,
    identifier_format: str = WebhookEndpoint.IdentifierFormat.CLEAR,
    batch_size: int = 100,
    after: int | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register a client's webhook. Delivery starts after ``after`` (default: the
    feed as it stands, for a client that has just taken a snapshot). Returns the
    endpoint and its signing secret, shown this once."""
    if WebhookEndpoint.objects.filter(client=client).exists():
        raise ValidationError({"client": MSG_HAS_WEBHOOK}, code="has_webhook")
    if urlsplit(url or "").scheme not in ("http", "https"):
        raise ValidationError({"url": MSG_URL_SCHEME}, code="url_scheme")
    secret = webhook_secret_new()
    endpoint = WebhookEndpoint(
        client=client,
        url=url,
        secret_encrypted=crypto.encrypt(secret),
        identifier_format=identifier_format,
        batch_size=batch_size,
        cursor=selectors.feed_head_seq() if after is None else after,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint, secret


# The delivery task runs webhook_deliver; it is named here, not imported.
DELIVER_TASK = "consent.tasks.webhook_deliver_task"


def _enqueue_after_commit(endpoint: WebhookEndpoint) -> None:
    transaction.on_commit(lambda: task(DELIVER_TASK, endpoint.pk).delay())


@transaction.atomic
def webhook_endpoint_pause(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.is_paused = True
    endpoint.save(update_fields=["is_paused"])
    return endpoint


@transaction.atomic
def webhook_endpoint_resume(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Resume, and retry at once rather than at the end of the current backoff."""
    endpoint.is_paused = False
    endpoint.next_attempt_at = None
    endpoint.save(update_fields=["is_paused", "next_attempt_at"])
    _enqueue_after_commit(endpoint)
    return endpoint


@transaction.atomic
def webhook_endpoint_replay(
    *, endpoint: WebhookEndpoint, after: int
) -> WebhookEndpoint:
    """Deliver again every row after ``after``. Only backwards: moving the cursor
    ahead would skip rows, and a skipped STOP is never received."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if after < 0:
        raise ValidationError({"after": MSG_REPLAY_NEGATIVE}, code="negative")
    if after > endpoint.cursor:
        raise ValidationError(
            {"after": MSG_REPLAY_AHEAD % {"cursor": endpoint.cursor}}, code="ahead"
        )
    endpoint.cursor = after
    endpoint.failures = 0
    endpoint.next_attempt_at = None
    endpoint.save(update_fields=["cursor", "failures", "next_attempt_at"])
    _enqueue_after_commit(endpoint)
    return endpoint


# --- delivery -----------------------------------------------------------------------


def retry_delay(failures: int) -> timedelta:
    """Exponential backoff after the n-th consecutive failure: base, 2×, 4×, … up to
    the maximum."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(failures - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST without following redirects; any answer but 2xx is a failure."""
    parts = urlsplit(url)
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.perf_counter()
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname,
            parts.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        status, error = response.status, ""
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except (OSError, http.client.HTTPException) as exc:
        # The exception's text can carry the URL; its type is enough to act on.
        status, error = None, type(exc).__name__
    finally:
        conn.close()
    return PostResult(status, error, int((time.perf_counter() - started) * 1000))


def webhook_message(
    *, endpoint: WebhookEndpoint, rows: list[dict], now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    """The message id, body and signed headers for one batch."""
    first, last = rows[0]["seq"], rows[-1]["seq"]
    message_id = f"msg_{endpoint.pk}_{first}_{last}"
    body = json.dumps(
        {
            "type": EVENT_TYPE,
            "timestamp": selectors.iso(now),
            "data": {"results": rows, "first_seq": first, "last_seq": last},
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    signature = Webhook(webhook_secret(endpoint)).sign(message_id, now, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return message_id, body.encode(), headers


def _lease() -> timedelta:
    """Long enough for one message; renewed with every delivered batch."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30)


def _claim(endpoint_id: int, now: datetime) -> bool:
    return bool(
        WebhookEndpoint.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            pk=endpoint_id,
            is_paused=False,
            client__is_active=True,
        ).update(lease_until=now + _lease())
    )


def _release(endpoint_id: int) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(lease_until=None)


@dataclass
class DeliveryRun:
    claimed: bool = False
    batches: int = 0
    rows: int = 0
    failed: bool = False
    # The client's channels, read once per run.
    channels: dict[int, str] | None = None


def _deliver_claimed(endpoint_id: int, max_batches: int, run: DeliveryRun) -> None:
    for _batch in range(max_batches):
        endpoint = WebhookEndpoint.objects.select_related("client").get(pk=endpoint_id)
        if endpoint.is_paused:
            return
        hmac_key = (
            endpoint.client.hmac_key
            if endpoint.identifier_format == WebhookEndpoint.IdentifierFormat.HMAC
            else None
        )
        rows = selectors.suppression_changes(
            channel_ids=run.channels,
            after=endpoint.cursor,
            limit=endpoint.batch_size,
            hmac_key=hmac_key,
        )
        if not rows:
            # Nothing left to send: the receiver holds the feed up to here.
            sender_feed_read_record(client=endpoint.client, cursor=endpoint.cursor)
            return
        now = timezone.now()
        message_id, body, headers = webhook_message(
            endpoint=endpoint, rows=rows, now=now
        )
        result = _post(endpoint.url, body, headers)
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id=message_id,
            first_seq=rows[0]["seq"],
            last_seq=rows[-1]["seq"],
            rows=len(rows),
            attempt=endpoint.failures + 1,
            status_code=result.status_code,
            error=result.error,
            delivered=result.ok,
            duration_ms=result.duration_ms,
        )
        run.batches += 1
        if not result.ok:
            failures = endpoint.failures + 1
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                failures=failures,
                next_attempt_at=timezone.now() + retry_delay(failures),
                last_error=result.error[:300],
            )
            run.failed = True
            return
        last = rows[-1]["seq"]
        # Guarded on the cursor the batch started from: a replay ordered during the
        # POST wins over this batch's advance.
        WebhookEndpoint.objects.filter(pk=endpoint.pk, cursor=endpoint.cursor).update(
            cursor=last,
            failures=0,
            next_attempt_at=None,
            last_success_at=timezone.now(),
            last_error="",
            lease_until=timezone.now() + _lease(),
        )
        run.rows += len(rows)
        sender_feed_read_record(client=endpoint.client, cursor=last)


def webhook_pending(
    endpoint: WebhookEndpoint, channels: dict[int, str] | None = None
) -> bool:
    """Whether feed rows on the client's channels wait after the delivered cursor."""
    if channels is None:
        channels = _channel_map(endpoint.client)
    return SuppressionChange.objects.filter(
        channel_id__in=list(channels), seq__gt=endpoint.cursor
    ).exists()


def webhook_deliver(*, endpoint_id: int, max_batches: int = 100) -> DeliveryRun:
    """Deliver what is due to one webhook, batch after batch, until it is caught up,
    a batch fails, it is paused or ``max_batches`` were sent."""
    run = DeliveryRun()
    client = ApiClient.objects.filter(webhook__pk=endpoint_id).first()
    if client is None:
        return run
    run.channels = _channel_map(client)
    while run.batches < max_batches:
        if not _claim(endpoint_id, timezone.now()):
            return run
        run.claimed = True
        try:
            _deliver_claimed(endpoint_id, max_batches - run.batches, run)
        finally:
            _release(endpoint_id)
        endpoint = WebhookEndpoint.objects.select_related("client").get(pk=endpoint_id)
        # Rows committed after the last read, while a dispatch for them found the
        # lease held, would otherwise wait for the next beat.
        if (
            run.failed
            or endpoint.is_paused
            or not webhook_pending(endpoint, run.channels)
        ):
            return run
    return run


def webhook_endpoints_due(*, now: datetime | None = None) -> list[int]:
    """Active, unpaused webhooks that are not waiting out a backoff and have rows
    to deliver."""
    now = now or timezone.now()
    endpoints = WebhookEndpoint.objects.select_related("client").filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        is_paused=False,
        client__is_active=True,
    )
    return [e.pk for e in endpoints if webhook_pending(e)]


def webhook_dispatch(*, now: datetime | None = None) -> int:
    """Queue one delivery task per due webhook (at most one queued per webhook)."""
    queued = 0
    for endpoint_id in webhook_endpoints_due(now=now):
        if cache.add(f"webhook-queued:{endpoint_id}", 1, 5):
            task(DELIVER_TASK, endpoint_id).delay()
            queued += 1
    return queued


def webhook_dispatch_mark_started(endpoint_id: int) -> None:
    cache.delete(f"webhook-queued:{endpoint_id}")
