"""Reads from a PostgreSQL streaming replica, never staler than a bound.

With ``DATABASE_REPLICA_URL`` set, the sync API reads (``changes``, ``snapshot``,
``check``) and the complaint statistics run inside :func:`read_from_replica`. The
block reads from the replica when it is within ``REPLICA_MAX_LAG_SECONDS`` of the
primary, and from the primary otherwise (or when the replica cannot be reached).

``check`` is the last gate before a send, so it asks for more (``causal=True``): the
replica must already hold the primary's newest feed row as of the moment the check
arrived (waiting at most ``REPLICA_CATCHUP_WAIT_MS``). Every change of
contactability commits together with its feed row, and feed rows become visible in
``seq`` order, so a replica holding the primary's feed head holds every STOP whose
request had returned. A STOP committed on the primary is therefore never answered
"allowed" from a replica that has not replayed it. (Comparing feed heads rather
than WAL positions keeps unrelated writes, such as other tables and bulk imports,
from sending every check to the primary.)

Inside the block the thread's default connection *is* the replica's connection, so
raw SQL on ``django.db.connection`` (the feed page, the check lookup, the snapshot's
COPY connection) and ORM reads routed by :class:`ReplicaRouter` go to the same
place. Writes must stay outside the block: a standby refuses them.

Feed cursors are the same on both: the replica replays commits in commit order and
feed rows commit in ``seq`` order, so its feed is a prefix of the primary's and
``after=`` from either is valid on the other.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"

# The alias reads go to inside ``read_from_replica`` (None outside it).
_reading_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "consent_reading_from", default=None
)


class ReplicaRouter:
    """ORM reads inside ``read_from_replica`` go where it chose; everything else,
    and every write and migration, goes to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        return _reading_from.get()

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def reading_from() -> str:
    """The alias the current block reads from (the primary outside any block)."""
    return _reading_from.get() or DEFAULT_DB_ALIAS


# --- lag ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LagSample:
    lag: float  # seconds; inf when unknown or unreachable
    taken: float  # time.monotonic()


_sample: LagSample | None = None
_sample_lock = threading.Lock()


def _primary_flush_lsn() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
        return cursor.fetchone()[0]


def _replica_position(target_lsn: str) -> tuple[bool, float | None]:
    """Whether the replica has replayed up to ``target_lsn``, and the seconds since
    it last replayed a commit."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(
            "SELECT pg_is_in_recovery(), "
            "COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false), "
            "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())",
            [target_lsn],
        )
        in_recovery, caught_up, since_replay = cursor.fetchone()
    if not in_recovery:
        # Promoted or misconfigured: it no longer follows this primary.
        return False, None
    return bool(caught_up), None if since_replay is None else float(since_replay)


def _close_replica() -> None:
    try:
        connections[REPLICA].close()
    except DatabaseError:
        pass


def replica_lag_measure() -> float:
    """Seconds by which the replica may be behind the primary, an upper bound.

    Zero when it has replayed everything the primary had flushed a moment ago;
    otherwise the time since it last replayed a commit (every commit it has not
    replayed is younger than that). Infinite when it cannot be reached.
    """
    try:
        caught_up, since_replay = _replica_position(_primary_flush_lsn())
    except DatabaseError:
        _close_replica()
        return math.inf
    if caught_up:
        return 0.0
    return math.inf if since_replay is None else max(since_replay, 0.0)


def replica_lag() -> float:
    """The lag, measured at most every ``REPLICA_LAG_CACHE_SECONDS`` per process.

    A cached figure is aged by the time since it was taken, so it stays an upper
    bound: a replica caught up 0.2 s ago is at most 0.2 s behind now.
    """
    global _sample
    now = time.monotonic()
    sample = _sample
    if sample is None or now - sample.taken > settings.REPLICA_LAG_CACHE_SECONDS:
        with _sample_lock:
            sample = _sample
            if (
                sample is None
                or now - sample.taken > settings.REPLICA_LAG_CACHE_SECONDS
            ):
                sample = LagSample(lag=replica_lag_measure(), taken=time.monotonic())
                _sample = sample
        now = time.monotonic()
    return sample.lag + (now - sample.taken)


def replica_lag_forget() -> None:
    """Drop the cached figure (tests, and after a failover)."""
    global _sample
    _sample = None


def _feed_head(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_suppressionchange")
        return cursor.fetchone()[0]


def replica_has_feed_head(*, wait_ms: int) -> bool:
    """Whether the replica holds the primary's newest feed row as of now, waiting up
    to ``wait_ms`` for it to arrive."""
    try:
        target = _feed_head(DEFAULT_DB_ALIAS)
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            if _feed_head(REPLICA) >= target:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
    except DatabaseError:
        _close_replica()
        return False


def replica_caught_up(*, wait_ms: int) -> bool:
    """Whether the replica has replayed everything the primary has flushed now,
    waiting up to ``wait_ms`` for it to get there."""
    try:
        target = _primary_flush_lsn()
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            caught_up, _since = _replica_position(target)
            if caught_up:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
    except DatabaseError:
        _close_replica()
        return False


def replica_usable(*, causal: bool) -> bool:
    if replica_lag() > settings.REPLICA_MAX_LAG_SECONDS:
        return False
    if causal:
        return replica_has_feed_head(wait_ms=settings.REPLICA_CATCHUP_WAIT_MS)
    return True


# --- the block ----------------------------------------------------------------------


@contextmanager
def read_from_replica(*, causal: bool = False) -> Iterator[str]:
    """Run the block's reads on the replica when it is fresh enough, else on the
    primary; yields the alias chosen. Usable as a decorator. Nested blocks keep the
    outer choice. Do not write inside the block."""
    if not replica_configured() or _reading_from.get() is not None:
        yield reading_from()
        return
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        # Inside a transaction on the primary the reads must see its own writes.
        yield DEFAULT_DB_ALIAS
        return
    alias = REPLICA if replica_usable(causal=causal) else DEFAULT_DB_ALIAS
    token = _reading_from.set(alias)
    local = connections._connections
    swapped = alias != DEFAULT_DB_ALIAS
    if swapped:
        had_default = hasattr(local, DEFAULT_DB_ALIAS)
        previous = getattr(local, DEFAULT_DB_ALIAS, None)
        # Raw SQL in the selectors uses ``django.db.connection`` (the default
        # alias): point this thread's default at the replica's connection for the
        # block, so the ORM and raw SQL read from one place.
        setattr(local, DEFAULT_DB_ALIAS, connections[alias])
    try:
        yield alias
    finally:
        if swapped:
            if had_default:
                setattr(local, DEFAULT_DB_ALIAS, previous)
            else:
                delattr(local, DEFAULT_DB_ALIAS)
        _reading_from.reset(token)
