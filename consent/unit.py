"""The unit of work: every change that can affect contactability runs in one.

    with consent_change(actor=actor, source=Source.PORTAL, evidence=evidence) as change:
        consent_withdraw(change=change, customer=customer, channel=sms, topic=None)
        care_pause_start(change=change, customer=customer, ...)

Services lock the customers they change (a row lock: changes for one customer
serialise, changes for different customers do not wait for each other), write the
projection at once, and record their ledger rows and what they touched. On exit the
unit recomputes every touched key once, under the keys' own locks, and then runs the
one step all writers share: lock the ledger head, append the ledger rows (hash chain)
and the feed rows with the next sequence numbers, move the head, commit. That step
is one statement on PostgreSQL (``consent.unit_rows``), sent with the COMMIT when the
unit is the outermost transaction, so the order it gives is the commit order and
the head is held for no longer than that statement and the commit.

A service called without a unit opens its own; inside a unit (passed as ``change``
or already open in this thread) it joins it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from consent import check_keys, prepared, unit_rows
from consent import keys as key_state
from consent.ledger import Actor, Evidence, ledger_seal, lock_head
from consent.models import (
    ConsentEvent,
    Contactability,
    Customer,
    SuppressionChange,
)

_current: contextvars.ContextVar[ConsentChange | None] = contextvars.ContextVar(
    "consent_change", default=None
)


# Advisory lock keys are the first 60 bits of the blind index (hex): collisions only
# make two unrelated keys wait for each other.
def lock_keys_sql(customers: str, indexes: str) -> str:
    """A statement locking, in key order, the keys of live addresses of customers
    (``customers``: a condition on customer_id) and of identifiers (``indexes``: a
    text[] of blind indexes)."""
    return f"""
SELECT count(pg_advisory_xact_lock(k)) FROM (
    SELECT DISTINCT ('x' || substr(bi, 1, 15))::bit(60)::bigint AS k FROM (
        SELECT blind_index AS bi FROM consent_contactpoint
        WHERE customer_id {customers} AND removed_at IS NULL
        UNION ALL SELECT unnest({indexes}::text[])
    ) touched
    ORDER BY k
) ordered
"""


_LOCK_KEYS_SQL = lock_keys_sql("= ANY(%(customers)s)", "%(indexes)s")


class ConsentChange:
    """What one unit of work did so far; see the module docstring."""

    def __init__(
        self,
        *,
        actor: Actor | str,
        source: str,
        evidence: Evidence | None,
        now: datetime | None = None,
    ) -> None:
        self.actor = actor
        self.source = source
        self.evidence = evidence or Evidence()
        self.now = now or timezone.now()
        self.events: list[ConsentEvent] = []
        self.feed: list[SuppressionChange] = []
        self._status: dict[int, str] = {}
        self._customers: set[int] = set()
        self._indexes: set[str] = set()
        self._known: dict[str, str] = {}
        self._erased: set[str] = set()
        self._ids: list[int] = []
        self._sealed_callbacks: list = []
        self._extra: list = []
        self._appended = False
        self._next_id: int | None = None
        self._keys_locked: tuple[set[int], set[str]] = (set(), set())

    # --- what services call ----------------------------------------------------------

    def lock(self, *customers: Customer | int) -> dict[int, str]:
        """Row-lock these customers (in id order) for the rest of the transaction and
        return their current status. A customer locked earlier in the unit is not
        locked again."""
        ids = {c if isinstance(c, int) else c.pk for c in customers}
        missing = sorted(ids - self._status.keys())
        if missing:
            rows = (
                Customer.objects.select_for_update()
                .filter(pk__in=missing)
                .order_by("pk")
                .values_list("pk", "status")
            )
            self._status.update(rows)
        return {pk: self._status[pk] for pk in ids if pk in self._status}

    def locked(self, statuses: dict[int, str]) -> None:
        """Customers the caller row-locked itself (in id order, in a statement it
        ran anyway), with their status: ``lock`` will not lock them again."""
        self._status.update(statuses)

    def keys_locked(self, *, customers: set[int], indexes: set[str]) -> None:
        """The caller locked these customers and then, in a statement it ran anyway
        (``lock_keys_sql``), their keys and these identifiers' keys: the flush
        locks keys again only if the unit touched more than that."""
        self._keys_locked = (set(customers), set(indexes))

    def record(
        self,
        *,
        customer: Customer,
        action: str,
        channel=None,
        topic=None,
        contact_point=None,
        notice_version=None,
        detail: dict | None = None,
        occurred_at: datetime | None = None,
        source: str | None = None,
        actor: Actor | str | None = None,
        evidence: Evidence | None = None,
    ) -> ConsentEvent:
        """A ledger row of this unit. It has its primary key at once (projection
        rows may point to it); its ``seq`` and hash come in the ordering step."""
        event = ConsentEvent(
            id=self._allocate_id(),
            customer=customer,
            contact_point=contact_point,
            channel=channel,
            topic=topic,
            action=action,
            source=source or self.source,
            actor=str(actor or self.actor),
            notice_version=notice_version,
            evidence=(evidence or self.evidence).as_dict(),
            detail=detail or None,
            occurred_at=occurred_at or self.now,
            recorded_at=self.now,
        )
        self.events.append(event)
        self.touch_customer(customer)
        return event

    def touch_customer(self, customer: Customer | int) -> None:
        """Recompute every key of this customer's live addresses on exit."""
        self._customers.add(customer if isinstance(customer, int) else customer.pk)

    def touch_identifier(
        self, blind_index: str, *, known: str | None = None, erased: bool = False
    ) -> None:
        """Recompute this identifier's keys on exit. ``known``: its published form
        when no live address carries it; ``erased``: its holder was just erased."""
        self._indexes.add(blind_index)
        if known is not None:
            self._known[blind_index] = known
        if erased:
            self._erased.add(blind_index)

    def on_sealed(self, callback) -> None:
        """Run ``callback()`` after the ordering step, before commit (it can read
        the ledger and feed positions, ``self.events`` and ``self.feed``)."""
        self._sealed_callbacks.append(callback)

    # --- infrastructure ------------------------------------------------------------

    def reserved(self, ids: list[int]) -> None:
        """Ledger ids the caller fetched in a statement it ran anyway
        (``nextval`` of the ledger's id sequence, PostgreSQL)."""
        self._ids.extend(ids)

    def reserve(self, count: int) -> None:
        """Fetch ledger ids for ``count`` rows in one statement (bulk changes)."""
        missing = count - len(self._ids)
        if missing <= 0:
            return
        with prepared.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('consent_consentevent', "
                    "'id')) FROM generate_series(1, %s)",
                    [missing],
                )
                self._ids.extend(row[0] for row in cursor.fetchall())
                return
            # SQLite: the transaction holds the database's only write lock
            # (IMMEDIATE), so the ids after the highest one are free.
            if self._next_id is None:
                cursor.execute("SELECT COALESCE(MAX(id), 0) FROM consent_consentevent")
                self._next_id = cursor.fetchone()[0] + 1
            self._ids.extend(range(self._next_id, self._next_id + missing))
            self._next_id += missing

    def _allocate_id(self) -> int:
        self.reserve(1)
        return self._ids.pop(0)

    def _mark(self) -> tuple:
        return (
            len(self.events),
            len(self._extra),
            set(self._customers),
            set(self._indexes),
            dict(self._known),
            set(self._erased),
            dict(self._status),
        )

    def _rollback_to(self, mark: tuple) -> None:
        """Forget what a failed service recorded (its rows were rolled back)."""
        count, extra, customers, indexes, known, erased, status = mark
        del self.events[count:]
        del self._extra[extra:]
        self._customers, self._indexes = customers, indexes
        self._known, self._erased, self._status = known, erased, status

    def _lock_keys(self) -> None:
        """Serialise recomputation per identifier: two customers sharing a phone
        change it one after the other, each seeing the other's committed state.
        The keys are the touched identifiers and every live address of the touched
        customers, locked in one statement, in order (no deadlock between units)."""
        if connection.vendor != "postgresql":
            return  # SQLite: the IMMEDIATE transaction already excludes writers
        customers, indexes = self._keys_locked
        if self._customers <= customers and self._indexes <= indexes:
            return
        with prepared.cursor() as cursor:
            params = {
                "customers": sorted(self._customers),
                "indexes": sorted(self._indexes),
            }
            cursor.execute(_LOCK_KEYS_SQL, params)

    def insert_when_sealed(self, obj, *, position: tuple[str, str] | None = None):
        """Insert ``obj`` with the ordering step's rows. ``position``: (JSON field,
        key) that receives the feed position of the unit's last feed row, or null
        when it has none (an inbound event's result names its feed position)."""
        self._extra.append(unit_rows.Extra(obj, position))

    def _flush(self, commit: bool = False) -> None:
        if self.events or self._customers or self._indexes:
            self._lock_keys()
            updates = key_state.keys_recompute(
                indexes=self._indexes,
                customer_ids=self._customers,
                now=self.now,
                known_identifiers=self._known,
                erased=self._erased,
            )
            if self.events or updates:
                self._append(updates, commit)
        if not self._appended:  # SQLite, or nothing to append
            last = self.feed[-1].seq if self.feed else None
            for extra in self._extra:
                if extra.position:
                    field, key = extra.position
                    getattr(extra.obj, field)[key] = last
                extra.obj.save(force_insert=True)
        for callback in self._sealed_callbacks:
            callback()

    def _append(self, updates: list[key_state.KeyUpdate], commit: bool) -> None:
        """The ordering step: lock the ledger head, number and chain the ledger and
        feed rows, write them with the keys, move the head, commit. On PostgreSQL
        it is one statement (``consent.unit_rows``), sent with the COMMIT when the
        unit's transaction is the outermost (``commit``)."""
        if connection.vendor == "postgresql":
            unit_rows.append_pg(
                events=self.events,
                updates=updates,
                extras=self._extra,
                now=self.now,
                commit=commit and not self._sealed_callbacks,
            )
            self.feed = self._feed_rows(updates)
            self._appended = True
            return
        head = lock_head()
        if self.events:
            ledger_seal(head=head, events=self.events)
        for update in updates:
            head.feed_seq += 1
            update.row.seq = head.feed_seq
        self.feed = self._feed_rows(updates)
        if self.events:
            ConsentEvent.objects.bulk_create(self.events)
        created = [u.row for u in updates if u.created]
        changed = [u.row for u in updates if not u.created]
        if created:
            Contactability.objects.bulk_create(created)
        if len(changed) == 1:
            changed[0].save(update_fields=key_state.KEY_FIELDS)
        elif changed:
            Contactability.objects.bulk_update(changed, key_state.KEY_FIELDS)
        if self.feed:
            SuppressionChange.objects.bulk_create(self.feed)
        check_keys.write([u.check for u in updates])
        head.save(update_fields=["ledger_seq", "ledger_hash", "feed_seq"])

    def _feed_rows(self, updates: list[key_state.KeyUpdate]) -> list:
        return [
            SuppressionChange(
                seq=u.row.seq,
                key=u.row,
                channel_id=u.row.channel_id,
                created_at=self.now,
                **u.state.as_fields(),
            )
            for u in updates
        ]


@contextmanager
def _joining(change: ConsentChange) -> Iterator[None]:
    """A service failing inside a joined unit leaves nothing recorded (the caller
    may catch the error in a savepoint and carry on)."""
    mark = change._mark()
    try:
        yield
    except BaseException:
        change._rollback_to(mark)
        raise


def current_change() -> ConsentChange | None:
    """The unit of work open in this thread, if any."""
    return _current.get()


@contextmanager
def consent_change(
    *,
    actor: Actor | str,
    source: str,
    evidence: Evidence | None = None,
    now: datetime | None = None,
) -> Iterator[ConsentChange]:
    """Open a unit of work (one transaction); see the module docstring. Inside an
    open unit, this joins it."""
    outer = _current.get()
    if outer is not None:
        with _joining(outer):
            yield outer
        return
    atomic = transaction.atomic()
    with atomic:
        change = ConsentChange(actor=actor, source=source, evidence=evidence, now=now)
        token = _current.set(change)
        try:
            yield change
            # Nothing runs after the flush: when no outer transaction holds this
            # one, the ordering step commits it (Django's own commit then finds
            # nothing to do, and runs the on-commit hooks as usual).
            change._flush(commit=connection.atomic_blocks == [atomic])
        finally:
            _current.reset(token)


@contextmanager
def joined(
    change: ConsentChange | None,
    *,
    actor: Actor | str,
    source: str,
    evidence: Evidence | None = None,
) -> Iterator[ConsentChange]:
    """The given or open unit, or a new one for a service called on its own."""
    if change is not None:
        with _joining(change):
            yield change
        return
    with consent_change(actor=actor, source=source, evidence=evidence) as opened:
        yield opened
