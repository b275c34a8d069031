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
from django.db.models import Exists, OuterRef, Q, Subquery

from consent import contactability, hooks
from consent.catalogue import catalogue, catalogue_version
from consent.models import (
    Channel,
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
    ordering step numbers the feed) and the state for its feed row."""

    row: Contactability
    state: contactability.KeyState
    created: bool


def is_holder(cp: ContactPoint) -> bool:
    """An address speaks for its customer only once the holder proved it (a code,
    a link, or staff evidence): an unverified address is nobody's."""
    return cp.removed_at is None and cp.verified_at is not None


def _points(lookup: Q) -> list[ContactPoint]:
    """Contact points with their customer's status and "stop all" in one query."""
    return list(
        ContactPoint.objects.filter(lookup)
        .select_related("customer")
        .only(
            "id",
            "customer_id",
            "kind",
            "blind_index",
            "status",
            "verified_at",
            "removed_at",
            "address_encrypted",
            "customer__status",
        )
        .annotate(
            customer_opted_out=Exists(
                OptOut.objects.filter(customer_id=OuterRef("customer_id"))
            ),
            catalogue_version=Subquery(
                LedgerHead.objects.filter(pk=1).values("catalogue_version")[:1]
            ),
        )
    )


def _states(customer_ids: set[int]) -> dict[tuple[int, int], dict]:
    """(customer, channel) -> {topic: (status, source, recorded at)}."""
    states: dict[tuple[int, int], dict[str, tuple]] = defaultdict(dict)
    rows = ConsentState.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "channel_id", "topic__code", "status", "source", "updated_at"
    )
    for customer_id, channel_id, topic_code, status, source, updated_at in rows:
        states[(customer_id, channel_id)][topic_code] = (status, source, updated_at)
    return states


def _holder(
    cp: ContactPoint,
    channel: Channel,
    states: dict,
    prefs: dict[int, hooks.HolderPreferences],
) -> contactability.Holder:
    pref = prefs[cp.customer_id]
    cells = states.get((cp.customer_id, channel.pk), {})
    return contactability.Holder(
        contact_status=cp.status,
        customer_status=cp.customer.status,
        opted_out=cp.customer_opted_out,
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
    lookup = Q(blind_index__in=indexes) if indexes else Q(pk__in=[])
    if customer_ids:
        own = ContactPoint.objects.filter(
            customer_id__in=customer_ids, removed_at__isnull=True
        ).values("blind_index")
        lookup |= Q(blind_index__in=own)
    points = _points(lookup)
    indexes |= {
        cp.blind_index
        for cp in points
        if cp.customer_id in customer_ids and cp.removed_at is None
    }
    if not indexes:
        return []
    holders_by_index: dict[str, list[ContactPoint]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for cp in points:
        if cp.blind_index in indexes:
            kinds[cp.blind_index] = cp.kind
            if is_holder(cp):
                holders_by_index[cp.blind_index].append(cp)
    flags: dict[str, list[str]] = defaultdict(list)
    # (blind index, channel id or None for all) -> refusals of marketing
    refusals: dict[tuple[str, int | None], list] = defaultdict(list)
    for bi, kind, reason, channel_id, created_at in SuppressedIdentifier.objects.filter(
        blind_index__in=indexes
    ).values_list("blind_index", "kind", "reason", "channel_id", "created_at"):
        kinds.setdefault(bi, kind)
        if reason in SuppressedIdentifier.MARKETING_ONLY:
            refusals[(bi, channel_id)].append(
                contactability.Refusal(reason=reason, since=created_at)
            )
        else:
            flags[bi].append(reason)
    holder_ids = {cp.customer_id for cps in holders_by_index.values() for cp in cps}
    states = _states(holder_ids)
    prefs = hooks.holder_preferences(holder_ids, now)
    # The catalogue's version came with the addresses (one statement fewer).
    current = catalogue(
        (points[0].catalogue_version or 0) if points else catalogue_version()
    )
    topics = [contactability.TopicInfo.of(t) for t in current.topics]
    channels_by_kind: dict[str, list[Channel]] = defaultdict(list)
    for channel in current.channels:
        channels_by_kind[channel.address_kind].append(channel)
    existing = {
        (row.blind_index, row.channel_id): row
        for row in Contactability.objects.filter(blind_index__in=indexes)
    }
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
            updates.append(KeyUpdate(row=row, state=state, created=created))
    return updates
