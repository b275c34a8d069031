"""Recomputing contactability keys: gather the facts, decide, say what changed.

Nothing here writes. A unit of work (``consent.unit``) calls :func:`keys_recompute`
for every identifier it touched, under the keys' locks, and writes the changed rows
and their feed rows in its ordering step.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, Subquery

from consent import check_keys, contactability, crypto, hooks, prepared
from consent.catalogue import catalogue, catalogue_version
from consent.models import (
    Channel,
    CheckKey,
    ConsentState,
    Contactability,
    ContactPoint,
    LedgerHead,
    OptOut,
    SuppressedIdentifier,
)

# What a refresh writes to a key row (all but its identity).
KEY_FIELDS = [
    "identifier",
    "identifier_erase_at",
    *(f.name for f in dataclasses.fields(contactability.KeyState)),
    "seq",
    "updated_at",
]


@dataclass
class KeyUpdate:
    """A key whose state changed: the row to write (its ``seq`` is set when the
    ordering step numbers the feed), the state for its feed row and the check's
    narrow copy."""

    row: Contactability
    state: contactability.KeyState
    created: bool
    check: CheckKey


@dataclass(frozen=True)
class _Point:
    """A contact point as a refresh needs it, with its customer's status."""

    customer_id: int
    kind: str
    blind_index: str
    status: str
    verified_at: datetime | None
    removed_at: datetime | None
    address_encrypted: str
    customer_status: str
    opted_out: bool

    @property
    def address(self) -> str:
        return crypto.decrypt(self.address_encrypted) if self.address_encrypted else ""


def is_holder(cp: ContactPoint | _Point) -> bool:
    """An address speaks for its customer only once the holder proved it (a code,
    a link, or staff evidence): an unverified address is nobody's."""
    return cp.removed_at is None and cp.verified_at is not None


@dataclass
class _Inputs:
    """Everything a refresh reads: the addresses carrying the identifiers, the
    refusals and flags kept against them, the holders' consents and preferences,
    the keys as stored, and the catalogue's version."""

    indexes: set[str]
    points: list[_Point]
    suppressions: list[tuple]  # (blind index, kind, reason, channel id, created at)
    states: dict[tuple[int, int], dict[str, tuple]]  # (customer, channel) -> topics
    prefs: dict[int, hooks.HolderPreferences]
    existing: dict[tuple[str, int], Contactability]
    catalogue_version: int


def _inputs_orm(indexes: set[str], customer_ids: set[int], now: datetime) -> _Inputs:
    """The portable read: one query per input (SQLite)."""
    lookup = Q(blind_index__in=indexes) if indexes else Q(pk__in=[])
    if customer_ids:
        own = ContactPoint.objects.filter(
            customer_id__in=customer_ids, removed_at__isnull=True
        ).values("blind_index")
        lookup |= Q(blind_index__in=own)
    rows = list(
        ContactPoint.objects.filter(lookup)
        .annotate(
            opted_out=Exists(
                OptOut.objects.filter(customer_id=OuterRef("customer_id"))
            ),
            version=Subquery(
                LedgerHead.objects.filter(pk=1).values("catalogue_version")[:1]
            ),
        )
        .values_list(
            "customer_id",
            "kind",
            "blind_index",
            "status",
            "verified_at",
            "removed_at",
            "address_encrypted",
            "customer__status",
            "opted_out",
            "version",
        )
    )
    points = [_Point(*row[:9]) for row in rows]
    version = rows[0][9] if rows else None
    indexes = indexes | {
        p.blind_index
        for p in points
        if p.customer_id in customer_ids and p.removed_at is None
    }
    holder_ids = {
        p.customer_id for p in points if p.blind_index in indexes and is_holder(p)
    }
    states: dict[tuple[int, int], dict[str, tuple]] = defaultdict(dict)
    for (
        customer_id,
        channel_id,
        code,
        status,
        source,
        at,
    ) in ConsentState.objects.filter(customer_id__in=holder_ids).values_list(
        "customer_id", "channel_id", "topic__code", "status", "source", "updated_at"
    ):
        states[(customer_id, channel_id)][code] = (status, source, at)
    return _Inputs(
        indexes=indexes,
        points=points,
        suppressions=list(
            SuppressedIdentifier.objects.filter(blind_index__in=indexes).values_list(
                "blind_index", "kind", "reason", "channel_id", "created_at"
            )
        )
        if indexes
        else [],
        states=states,
        prefs=hooks.holder_preferences(holder_ids, now),
        existing={
            (row.blind_index, row.channel_id): row
            for row in Contactability.objects.filter(blind_index__in=indexes)
        }
        if indexes
        else {},
        catalogue_version=version if version is not None else catalogue_version(),
    )


# PostgreSQL: every input in one statement, each as a JSON aggregate. ``idx`` is the
# identifiers (given, and every live address of the given customers), ``pts`` the
# addresses carrying them, ``holders`` the customers who proved one. Sets are
# compared as ``= ANY(ARRAY(…))``: an array of a few ids makes every lookup an index
# scan, where ``IN (SELECT …)`` let the planner start from the wrong table.
_PG_INPUTS = """
WITH idx AS MATERIALIZED (
    SELECT unnest(%s::text[]) AS bi
    UNION SELECT blind_index FROM consent_contactpoint
    WHERE customer_id = ANY(%s) AND removed_at IS NULL
), pts AS MATERIALIZED (
    SELECT p.customer_id, p.kind, p.blind_index, p.status, p.verified_at,
        p.removed_at, p.address_encrypted, c.status AS customer_status,
        EXISTS(SELECT 1 FROM consent_optout o WHERE o.customer_id = p.customer_id)
            AS opted_out
    FROM consent_contactpoint p JOIN consent_customer c ON c.id = p.customer_id
    WHERE p.blind_index = ANY(ARRAY(SELECT bi FROM idx))
), holders AS MATERIALIZED (
    SELECT DISTINCT customer_id FROM pts
    WHERE removed_at IS NULL AND verified_at IS NOT NULL
)
SELECT
    (SELECT catalogue_version FROM consent_ledgerhead WHERE id = 1),
    (SELECT array_agg(bi) FROM idx),
    (SELECT json_agg(pts) FROM pts),
    (SELECT json_agg(json_build_array(blind_index, kind, reason, channel_id,
        created_at)) FROM consent_suppressedidentifier
        WHERE blind_index = ANY(ARRAY(SELECT bi FROM idx))),
    (SELECT json_agg(json_build_array(s.customer_id, s.channel_id, s.topic_id,
        s.status, s.source, s.updated_at))
        FROM consent_consentstate s
        WHERE s.customer_id = ANY(ARRAY(SELECT customer_id FROM holders))),
    (SELECT json_agg(k) FROM consent_contactability k
        WHERE k.blind_index = ANY(ARRAY(SELECT bi FROM idx)))
"""
# A key row's time stamps, which JSON carries as text.
_KEY_TIMES = ("identifier_erase_at", "paused_until", "updated_at")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _inputs_pg(indexes: set[str], customer_ids: set[int], now: datetime) -> _Inputs:
    parts, parse = [], None
    if hooks.registry.preference_sql is not None:
        parts, parse = hooks.registry.preference_sql(
            "SELECT customer_id FROM holders", now
        )
    sql = _PG_INPUTS + "".join(f", {part}" for part, _params in parts)
    params = [sorted(indexes), sorted(customer_ids)]
    for _part, part_params in parts:
        params.extend(part_params)
    with prepared.cursor() as cursor:
        cursor.execute(sql, params)
        version, idx, pts, suppressions, states_rows, keys, *pref_values = (
            cursor.fetchone()
        )
    points = [
        _Point(
            customer_id=p["customer_id"],
            kind=p["kind"],
            blind_index=p["blind_index"],
            status=p["status"],
            verified_at=_when(p["verified_at"]),
            removed_at=_when(p["removed_at"]),
            address_encrypted=p["address_encrypted"],
            customer_status=p["customer_status"],
            opted_out=p["opted_out"],
        )
        for p in pts or ()
    ]
    # Topic codes from the catalogue of the version read in the same statement: a
    # topic that is not in it (inactive) has no say in a key.
    codes = {t.pk: t.code for t in catalogue(version or 0).topics}
    states: dict[tuple[int, int], dict[str, tuple]] = defaultdict(dict)
    for customer_id, channel_id, topic_id, status, source, at in states_rows or ():
        if topic_id in codes:
            states[(customer_id, channel_id)][codes[topic_id]] = (
                status,
                source,
                _when(at),
            )
    holder_ids = {p.customer_id for p in points if is_holder(p)}
    found = parse(*pref_values) if parse is not None else {}
    existing = {}
    for row in keys or ():
        row.update((name, _when(row[name])) for name in _KEY_TIMES)
        key = Contactability(**row)
        existing[(key.blind_index, key.channel_id)] = key
    return _Inputs(
        indexes=set(idx or ()),
        points=points,
        suppressions=[
            (bi, kind, reason, channel_id, _when(at))
            for bi, kind, reason, channel_id, at in suppressions or ()
        ],
        states=states,
        prefs={
            pk: found.get(pk, hooks.registry.default_preferences) for pk in holder_ids
        },
        existing=existing,
        catalogue_version=version or 0,
    )


def _holder(
    cp: _Point,
    channel: Channel,
    states: dict,
    prefs: dict[int, hooks.HolderPreferences],
) -> contactability.Holder:
    pref = prefs[cp.customer_id]
    cells = states.get((cp.customer_id, channel.pk), {})
    return contactability.Holder(
        contact_status=cp.status,
        customer_status=cp.customer_status,
        opted_out=cp.opted_out,
        states={
            topic: (status, source) for topic, (status, source, _) in cells.items()
        },
        granted_at={topic: at for topic, (_, _, at) in cells.items()},
        holder_since=cp.verified_at,
        pause_until=pref.pause_until,
        pause_holds_collections=pref.pause_holds_collections,
        quiet_hours=pref.quiet_hours,
        max_per_week=pref.caps.get(channel.pk),
        personalisation=pref.personalisation,
    )


def _same(row: Contactability, state: contactability.KeyState) -> bool:
    return all(getattr(row, name) == value for name, value in state.as_fields().items())


def keys_recompute(
    *,
    indexes: Iterable[str] = (),
    customer_ids: Iterable[int] = (),
    now: datetime,
    known_identifiers: dict[str, str] | None = None,
    erased: Iterable[str] = (),
) -> list[KeyUpdate]:
    """Recompute the keys of these identifiers and of every live address of these
    customers (with every other customer sharing one of them).

    ``known_identifiers`` gives the published form of identifiers that no live
    address carries (an unknown number reported as "not me"); ``erased`` are
    identifiers whose holder's data was just erased: their published form stays for
    the grace period, then only the blind index remains.
    """
    indexes, customer_ids = set(indexes), set(customer_ids)
    if not indexes and not customer_ids:
        return []
    read = _inputs_pg if connection.vendor == "postgresql" else _inputs_orm
    facts = read(indexes, customer_ids, now)
    indexes = facts.indexes
    if not indexes:
        return []
    holders_by_index: dict[str, list[_Point]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for cp in facts.points:
        if cp.blind_index in indexes:
            kinds[cp.blind_index] = cp.kind
            if is_holder(cp):
                holders_by_index[cp.blind_index].append(cp)
    flags: dict[str, list[str]] = defaultdict(list)
    # (blind index, channel id or None for all) -> refusals of marketing
    refusals: dict[tuple[str, int | None], list] = defaultdict(list)
    for bi, kind, reason, channel_id, created_at in facts.suppressions:
        kinds.setdefault(bi, kind)
        if reason in SuppressedIdentifier.MARKETING_ONLY:
            refusals[(bi, channel_id)].append(
                contactability.Refusal(reason=reason, since=created_at)
            )
        else:
            flags[bi].append(reason)
    states, prefs = facts.states, facts.prefs
    current = catalogue(facts.catalogue_version)
    topics = [contactability.TopicInfo.of(t) for t in current.topics]
    bits = {t.code: t.bit for t in current.topics}
    channels_by_kind: dict[str, list[Channel]] = defaultdict(list)
    for channel in current.channels:
        channels_by_kind[channel.address_kind].append(channel)
    existing = facts.existing
    erased = set(erased)
    grace = timedelta(days=settings.ERASED_IDENTIFIER_GRACE_DAYS)
    known_identifiers = known_identifiers or {}

    updates: list[KeyUpdate] = []
    for bi in sorted(indexes):
        holders = holders_by_index.get(bi, [])
        clear = holders[0].address if holders else known_identifiers.get(bi)
        for channel in channels_by_kind.get(kinds.get(bi, ""), []):
            row = existing.get((bi, channel.pk))
            kept = refusals.get((bi, None), []) + refusals.get((bi, channel.pk), [])
            if row is None and not holders and bi not in flags and not kept:
                # Nobody proved this address and nothing is recorded against it:
                # it is not published at all (an unverified address is nobody's).
                continue
            state = contactability.compute(
                holders=[_holder(cp, channel, states, prefs) for cp in holders],
                topics=topics,
                identifier_flags=flags.get(bi, ()),
                identifier_refusals=kept,
            )
            identifier = clear if clear is not None else (row.identifier if row else "")
            if holders:
                erase_at = None  # a live holder again keeps the identifier published
            elif bi in erased:
                erase_at = now + grace
            else:
                erase_at = row.identifier_erase_at if row else None
            if (
                row is not None
                and _same(row, state)
                and row.identifier == identifier
                and row.identifier_erase_at == erase_at
            ):
                continue
            created = row is None
            if created:
                row = Contactability(blind_index=bi, channel=channel)
            row.identifier = identifier
            row.identifier_erase_at = erase_at
            for name, value in state.as_fields().items():
                setattr(row, name, value)
            row.updated_at = now
            check = check_keys.pack(
                channel_id=channel.pk, blind_index=bi, state=state, bits=bits
            )
            updates.append(KeyUpdate(row, state, created, check))
    return updates
