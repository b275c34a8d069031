"""How far behind the feed each sending system is.

Every feed read (a ``changes`` page, a snapshot, a delivered webhook) notes the
client's cursor and the time, at most once a minute per client: a cache key lets
one request a minute through and a guarded UPDATE makes sure of it across cache
flushes. A client that has not read for longer than its bound is *stale*: it may be
sending to people who said stop, so it must fail closed (stop marketing sends) and
compliance officers are alerted (``backoffice.sender_alerts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models import ApiClient, SenderFeedPosition

RECORD_EVERY = timedelta(minutes=1)


class FeedStatus:
    NEVER = "never"
    CURRENT = "current"
    STALE = "stale"

    LABELS = {
        NEVER: _("never read"),
        CURRENT: _("current"),
        STALE: _("stale"),
    }


def _gate_key(client_id: int) -> str:
    return f"feed-read:{client_id}"


def sender_feed_read_record(
    *, client: ApiClient, cursor: int, now: datetime | None = None
) -> bool:
    """Note that ``client`` has read the feed up to ``cursor``. Returns whether it
    was written (at most once per ``RECORD_EVERY`` per client)."""
    window = int(RECORD_EVERY.total_seconds())
    if not cache.add(_gate_key(client.pk), 1, window):
        return False
    now = now or timezone.now()
    updated = SenderFeedPosition.objects.filter(
        Q(read_at__isnull=True) | Q(read_at__lte=now - RECORD_EVERY),
        client_id=client.pk,
    ).update(cursor=cursor, read_at=now, stale_alerted_at=None)
    if updated:
        return True
    _position, created = SenderFeedPosition.objects.get_or_create(
        client_id=client.pk, defaults={"cursor": cursor, "read_at": now}
    )
    return created


def sender_feed_position_forget(*, client: ApiClient) -> None:
    """Let the next read be recorded at once (after a replay or a cursor reset)."""
    cache.delete(_gate_key(client.pk))


@dataclass(frozen=True)
class SenderLag:
    cursor: int | None
    read_at: datetime | None
    lag: timedelta | None
    max_lag: timedelta
    status: str

    @property
    def stale(self) -> bool:
        return self.status == FeedStatus.STALE


def _lag_of(position: SenderFeedPosition | None, now: datetime) -> SenderLag:
    minutes = (
        position.max_lag_minutes
        if position
        else SenderFeedPosition._meta.get_field("max_lag_minutes").default
    )
    max_lag = timedelta(minutes=minutes)
    if position is None or position.read_at is None:
        return SenderLag(None, None, None, max_lag, FeedStatus.NEVER)
    lag = max(now - position.read_at, timedelta(0))
    status = FeedStatus.STALE if lag > max_lag else FeedStatus.CURRENT
    return SenderLag(position.cursor, position.read_at, lag, max_lag, status)


def sender_lag(*, client: ApiClient, now: datetime | None = None) -> SenderLag:
    position = SenderFeedPosition.objects.filter(client_id=client.pk).first()
    return _lag_of(position, now or timezone.now())


def sender_lag_of_position(
    position: SenderFeedPosition | None, now: datetime | None = None
) -> SenderLag:
    return _lag_of(position, now or timezone.now())


def stale_positions(*, now: datetime | None = None) -> list[SenderFeedPosition]:
    """Active clients that have read the feed before but not within their bound."""
    now = now or timezone.now()
    positions = SenderFeedPosition.objects.select_related("client").filter(
        client__is_active=True, read_at__isnull=False
    )
    return [p for p in positions if _lag_of(p, now).stale]
