"""Rebuild the consent projection (ConsentState, OptOut) by replaying the ledger.

The replay follows the same rules as the services, so on a healthy database it
arrives at exactly the stored rows; any difference means the projection was changed
outside a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consent.models import ConsentEvent, ConsentState, OptOut, Topic

StateKey = tuple[int, int, int]  # customer, channel, topic


@dataclass(frozen=True)
class StateRow:
    status: str
    source: str
    event_id: int
    updated_at: datetime


@dataclass
class Projection:
    states: dict[StateKey, StateRow]
    opt_outs: dict[int, tuple[int, datetime]]  # customer -> (event id, since)


def replay(events, *, service_topic_ids: frozenset[int] = frozenset()) -> Projection:
    """``service_topic_ids``: topics a withdrawal of every topic leaves alone (a
    refused service message is refused only by its own cell)."""
    states: dict[StateKey, StateRow] = {}
    opt_outs: dict[int, tuple[int, datetime]] = {}
    by_customer: dict[int, set[StateKey]] = {}
    Action = ConsentEvent.Action
    for e in events:
        if e.action == Action.GRANT:
            key = (e.customer_id, e.channel_id, e.topic_id)
            states[key] = StateRow("granted", e.source, e.pk, e.recorded_at)
            by_customer.setdefault(e.customer_id, set()).add(key)
        elif e.action == Action.WITHDRAW and e.channel_id and e.topic_id:
            key = (e.customer_id, e.channel_id, e.topic_id)
            states[key] = StateRow("withdrawn", e.source, e.pk, e.recorded_at)
            by_customer.setdefault(e.customer_id, set()).add(key)
        elif e.action in (Action.WITHDRAW, Action.OPT_OUT_ALL):
            if e.action == Action.OPT_OUT_ALL:
                opt_outs[e.customer_id] = (e.pk, e.recorded_at)
            for key in by_customer.get(e.customer_id, ()):
                row = states[key]
                if row.status != "granted":
                    continue
                if e.channel_id and key[1] != e.channel_id:
                    continue
                if e.topic_id and key[2] != e.topic_id:
                    continue
                if not e.topic_id and key[2] in service_topic_ids:
                    continue
                states[key] = StateRow("withdrawn", e.source, e.pk, e.recorded_at)
        elif e.action == Action.OPT_IN_ALL:
            opt_outs.pop(e.customer_id, None)
    return Projection(states, opt_outs)


def stored_projection() -> Projection:
    states = {
        (r.customer_id, r.channel_id, r.topic_id): StateRow(
            r.status, r.source, r.event_id, r.updated_at
        )
        for r in ConsentState.objects.all().iterator(chunk_size=5000)
    }
    opt_outs = {o.customer_id: (o.event_id, o.since) for o in OptOut.objects.all()}
    return Projection(states, opt_outs)


def ledger_projection() -> Projection:
    events = (
        ConsentEvent.objects.order_by("seq")
        .only(
            "pk",
            "customer_id",
            "channel_id",
            "topic_id",
            "action",
            "source",
            "recorded_at",
        )
        .iterator(chunk_size=5000)
    )
    service = frozenset(
        Topic.objects.exclude(kind=Topic.Kind.MARKETING).values_list("pk", flat=True)
    )
    return replay(events, service_topic_ids=service)


def differences(expected: Projection, actual: Projection) -> list[str]:
    lines = []
    for key in sorted(expected.states.keys() | actual.states.keys()):
        want, have = expected.states.get(key), actual.states.get(key)
        if want != have:
            lines.append(
                f"consent state customer={key[0]} channel={key[1]} "
                f"topic={key[2]}: ledger says {want}, table has {have}"
            )
    for customer_id in sorted(expected.opt_outs.keys() | actual.opt_outs.keys()):
        want = expected.opt_outs.get(customer_id)
        have = actual.opt_outs.get(customer_id)
        if want != have:
            lines.append(
                f"opt-out customer={customer_id}: ledger says {want}, table has {have}"
            )
    return lines


def projection_rewrite(expected: Projection) -> None:
    """Replace the projection with the replayed one. The caller holds the writers'
    lock in the transaction that also republishes contactability."""
    ConsentState.objects.all().delete()
    OptOut.objects.all().delete()
    ConsentState.objects.bulk_create(
        [
            ConsentState(
                customer_id=c,
                channel_id=ch,
                topic_id=t,
                status=row.status,
                source=row.source,
                event_id=row.event_id,
                updated_at=row.updated_at,
            )
            for (c, ch, t), row in expected.states.items()
        ],
        batch_size=5000,
    )
    OptOut.objects.bulk_create(
        [
            OptOut(customer_id=c, event_id=event_id, since=since)
            for c, (event_id, since) in expected.opt_outs.items()
        ],
        batch_size=5000,
    )
