"""Every write to consent state. Each service is one transaction: the ledger row, the
projection, the contactability keys and the feed rows commit together or not at all.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import contactability, crypto
from consent.errors import ApplicationError
from consent.identifiers import normalise
from consent.ledger import Actor, Evidence, ledger_append, lock_head
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    LedgerHead,
    NoticeVersion,
    OptOut,
    SuppressedIdentifier,
    SuppressionChange,
    Topic,
)

MSG_NOTICE_REQUIRED = _("A grant must cite the notice version the customer was shown.")
MSG_SOURCE_REQUIRED = _("A change must name its source.")
MSG_ACTOR_REQUIRED = _("A change must name who made it.")
MSG_SERVICE_TOPIC = _(
    "Service messages need no marketing consent and cannot be changed."
)
MSG_OPTED_OUT = _(
    "All marketing was stopped. Only the customer can ask for marketing again, "
    "in the self-service portal."
)
MSG_OPT_IN_PORTAL_ONLY = _(
    "Marketing can only be restarted by the customer's own action in the portal."
)
MSG_NOT_OPTED_OUT = _("Marketing is not stopped for this customer.")
MSG_CUSTOMER_INACTIVE = _("No consent can be granted for this customer.")
MSG_CONTACT_EXISTS = _("This address is already on file.")
MSG_CONTACT_REMOVED = _("This address was removed.")
MSG_CHANNEL_INACTIVE = _("This channel is not in use.")


# --- contactability and the feed -----------------------------------------------------


def _topic_infos() -> list[contactability.TopicInfo]:
    return [
        contactability.TopicInfo(t.code, t.is_marketing, t.held_by_care_pause)
        for t in Topic.objects.filter(is_active=True)
    ]


def _holder_facts(live: list[ContactPoint], now: datetime) -> dict:
    """Everything the pure function needs about the holders' customers, in a fixed
    number of queries whatever their number. Status, preferences and "stop all"
    come with the contact points (``_points``)."""
    from preferences.models import CarePause, FrequencyCap

    customer_ids = {cp.customer_id for cp in live}

    states: dict[tuple[int, int], dict[str, tuple[str, str]]] = defaultdict(dict)
    for (
        customer_id,
        channel_id,
        topic_code,
        status,
        source,
    ) in ConsentState.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "channel_id", "topic__code", "status", "source"
    ):
        states[(customer_id, channel_id)][topic_code] = (status, source)
    pauses: dict[int, tuple[datetime, bool]] = {}
    for pause in CarePause.objects.active_at(now).filter(customer_id__in=customer_ids):
        until, collections = pauses.get(pause.customer_id, (pause.ends_at, False))
        pauses[pause.customer_id] = (
            max(until, pause.ends_at),
            collections or pause.holds_collections,
        )
    return {
        "states": states,
        "opted_out": {cp.customer_id for cp in live if cp.customer_opted_out},
        "status": {cp.customer_id: cp.customer.status for cp in live},
        "preferences": {
            cp.customer_id: cp.customer.preference
            for cp in live
            if hasattr(cp.customer, "preference")
        },
        "caps": {
            (c.customer_id, c.channel_id): c.max_per_week
            for c in FrequencyCap.objects.filter(customer_id__in=customer_ids)
        },
        "pauses": pauses,
    }


def _holder(cp: ContactPoint, channel: Channel, facts: dict) -> contactability.Holder:
    from preferences.models import DEFAULT_QUIET_HOURS

    pref = facts["preferences"].get(cp.customer_id)
    until, collections = facts["pauses"].get(cp.customer_id, (None, False))
    return contactability.Holder(
        contact_status=cp.status,
        customer_status=facts["status"][cp.customer_id],
        opted_out=cp.customer_id in facts["opted_out"],
        states=facts["states"].get((cp.customer_id, channel.pk), {}),
        pause_until=until,
        pause_holds_collections=collections,
        quiet_hours=pref.quiet_hours() if pref else DEFAULT_QUIET_HOURS,
        max_per_week=facts["caps"].get((cp.customer_id, channel.pk)),
        personalisation=pref.personalisation_allowed if pref else True,
    )


# The head's positions, written once per change (ledger and feed together).
_HEAD_FIELDS = ["ledger_seq", "ledger_hash", "feed_seq"]

# What a refresh writes to a key row (all but its identity).
_KEY_FIELDS = [
    "identifier",
    "identifier_erase_at",
    *(f.name for f in dataclasses.fields(contactability.KeyState)),
    "seq",
    "updated_at",
]


def _same_state(row: Contactability, state: contactability.KeyState) -> bool:
    return all(getattr(row, name) == value for name, value in state.as_fields().items())


def _points(**lookup) -> list[ContactPoint]:
    """Contact points with their customer (status, preferences) and "stop all" in
    the same query: three fewer round trips on every refresh."""
    return list(
        ContactPoint.objects.filter(**lookup)
        .select_related("customer__preference")
        .annotate(
            customer_opted_out=Exists(
                OptOut.objects.filter(customer_id=OuterRef("customer_id"))
            ),
        )
    )


def contactability_refresh(
    *,
    head: LedgerHead,
    blind_indexes: Iterable[str],
    now: datetime | None = None,
    known_identifiers: dict[str, str] | None = None,
    save_head: bool = True,
) -> list[SuppressionChange]:
    """Recompute every (identifier, channel) key of these identifiers and append a
    feed row for each key whose state changed. The caller holds the ledger head.

    ``known_identifiers`` gives the published form of identifiers that no live contact
    point carries (an unknown number reported as "not me"). ``save_head=False``
    leaves writing the head's feed position to the caller (one write, not two)."""
    indexes = set(blind_indexes)
    if not indexes:
        return []
    return _refresh(
        head=head,
        indexes=indexes,
        points=_points(blind_index__in=indexes),
        now=now,
        known_identifiers=known_identifiers,
        save_head=save_head,
    )


def _refresh(
    *,
    head: LedgerHead,
    indexes: set[str],
    points: list[ContactPoint],
    now: datetime | None,
    known_identifiers: dict[str, str] | None,
    save_head: bool,
) -> list[SuppressionChange]:
    now = now or timezone.now()
    live = [cp for cp in points if cp.removed_at is None]
    flags: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {cp.blind_index: cp.kind for cp in points}
    for bi, kind, reason in SuppressedIdentifier.objects.filter(
        blind_index__in=indexes
    ).values_list("blind_index", "kind", "reason"):
        flags[bi].append(reason)
        kinds.setdefault(bi, kind)
    facts = _holder_facts(live, now)
    topics = _topic_infos()
    channels_by_kind: dict[str, list[Channel]] = defaultdict(list)
    for channel in Channel.objects.filter(is_active=True):
        channels_by_kind[channel.address_kind].append(channel)
    existing = {
        (row.blind_index, row.channel_id): row
        for row in Contactability.objects.filter(blind_index__in=indexes)
    }

    changes, created, updated = [], [], []
    for bi in sorted(indexes):
        holders_cps = [cp for cp in live if cp.blind_index == bi]
        clear = next((cp.address for cp in holders_cps), None)
        if clear is None and known_identifiers:
            clear = known_identifiers.get(bi)
        for channel in channels_by_kind.get(kinds.get(bi, ""), []):
            state = contactability.compute(
                holders=[_holder(cp, channel, facts) for cp in holders_cps],
                topics=topics,
                identifier_flags=flags.get(bi, ()),
            )
            row = existing.get((bi, channel.pk))
            identifier = clear if clear is not None else (row.identifier if row else "")
            # A live holder again (a later import) keeps the identifier published.
            erase_at = row.identifier_erase_at if row and not holders_cps else None
            if (
                row is not None
                and _same_state(row, state)
                and row.identifier == identifier
                and row.identifier_erase_at == erase_at
            ):
                continue
            head.feed_seq += 1
            if row is None:
                row = Contactability(blind_index=bi, channel=channel)
                created.append(row)
            else:
                updated.append(row)
            row.identifier = identifier
            row.identifier_erase_at = erase_at
            for name, value in state.as_fields().items():
                setattr(row, name, value)
            row.seq = head.feed_seq
            row.updated_at = now
            changes.append(
                SuppressionChange(
                    seq=head.feed_seq,
                    key=row,
                    channel=channel,
                    created_at=now,
                    **state.as_fields(),
                )
            )
    if created:
        Contactability.objects.bulk_create(created)
    if len(updated) == 1:
        updated[0].save(update_fields=_KEY_FIELDS)
    elif updated:
        Contactability.objects.bulk_update(updated, _KEY_FIELDS)
    if changes:
        SuppressionChange.objects.bulk_create(changes)
        if save_head:
            head.save(update_fields=["feed_seq"])
    return changes


def contactability_refresh_customer(
    *,
    head: LedgerHead,
    customer: Customer,
    now: datetime | None = None,
    save_head: bool = True,
) -> list[SuppressionChange]:
    """Recompute the keys of the customer's live addresses: every point sharing one
    of them comes in one query (a subquery, not a round trip for the addresses)."""
    own = ContactPoint.objects.filter(
        customer_id=customer.pk, removed_at__isnull=True
    ).values("blind_index")
    points = _points(blind_index__in=own)
    indexes = {
        cp.blind_index
        for cp in points
        if cp.customer_id == customer.pk and cp.removed_at is None
    }
    if not indexes:
        return []
    return _refresh(
        head=head,
        indexes=indexes,
        points=points,
        now=now,
        known_identifiers=None,
        save_head=save_head,
    )


@transaction.atomic
def customer_contactability_publish(*, customer: Customer) -> list[SuppressionChange]:
    """Recompute a customer's keys after a preference change (own transaction)."""
    head = lock_head()
    return contactability_refresh_customer(head=head, customer=customer)


# --- consent ------------------------------------------------------------------------


def _atomic(head: LedgerHead | None):
    """The service's own transaction; or, given a head the caller already holds, the
    caller's, with no savepoint (two round trips fewer): a failure then fails the
    caller's whole change, which is what a caller holding the lock wants."""
    return transaction.atomic(savepoint=head is None)


def _record(
    *, head: LedgerHead, customer: Customer, apply, **event_fields
) -> ConsentEvent:
    """Append a customer's ledger row, apply it to the projection (``apply``),
    republish the customer's keys, and write the head's positions once."""
    event = ledger_append(head=head, customer=customer, save_head=False, **event_fields)
    apply(event)
    contactability_refresh_customer(head=head, customer=customer, save_head=False)
    head.save(update_fields=_HEAD_FIELDS)
    return event


def _require_evidence(*, source: str, actor: Actor | str) -> None:
    if not source:
        raise ValidationError(MSG_SOURCE_REQUIRED, code="source_required")
    if not str(actor or "").strip(":"):
        raise ValidationError(MSG_ACTOR_REQUIRED, code="actor_required")


def _require_marketing(topic: Topic | None) -> None:
    if topic is not None and not topic.is_marketing:
        raise ApplicationError(MSG_SERVICE_TOPIC, code="service_topic")


def _set_state(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    status: str,
    event: ConsentEvent,
) -> None:
    ConsentState.objects.update_or_create(
        customer=customer,
        channel=channel,
        topic=topic,
        defaults={
            "status": status,
            "source": event.source,
            "event": event,
            "updated_at": event.recorded_at,
        },
    )


def consent_grant(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    source: str,
    actor: Actor | str,
    notice_version: NoticeVersion | None,
    evidence: Evidence | None = None,
    contact_point: ContactPoint | None = None,
    occurred_at: datetime | None = None,
    head: LedgerHead | None = None,
) -> ConsentEvent:
    """Record that the customer agreed to marketing on this channel about this topic.

    ``head``: the writers' lock when the caller already holds it in this transaction.
    """
    _require_evidence(source=source, actor=actor)
    if notice_version is None:
        raise ValidationError(MSG_NOTICE_REQUIRED, code="notice_required")
    _require_marketing(topic)
    if not channel.is_active:
        raise ApplicationError(MSG_CHANNEL_INACTIVE, code="channel_inactive")
    with _atomic(head):
        head = head or lock_head()
        customer.refresh_from_db(fields=["status"])
        if customer.status != Customer.Status.ACTIVE:
            raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
        if OptOut.objects.filter(customer=customer).exists():
            raise ApplicationError(MSG_OPTED_OUT, code="opted_out")
        return _record(
            head=head,
            customer=customer,
            apply=lambda event: _set_state(
                customer=customer,
                channel=channel,
                topic=topic,
                status="granted",
                event=event,
            ),
            action=ConsentEvent.Action.GRANT,
            source=source,
            actor=actor,
            evidence=evidence,
            channel=channel,
            topic=topic,
            contact_point=contact_point,
            notice_version=notice_version,
            occurred_at=occurred_at,
        )


def _apply_withdraw(event: ConsentEvent) -> None:
    """Projection of a withdrawal; shared with the ledger replay."""
    if event.channel_id and event.topic_id:
        _set_state(
            customer=event.customer,
            channel=event.channel,
            topic=event.topic,
            status="withdrawn",
            event=event,
        )
        return
    rows = ConsentState.objects.filter(customer_id=event.customer_id, status="granted")
    if event.channel_id:
        rows = rows.filter(channel_id=event.channel_id)
    if event.topic_id:
        rows = rows.filter(topic_id=event.topic_id)
    rows.update(
        status="withdrawn",
        source=event.source,
        event=event,
        updated_at=event.recorded_at,
    )


def consent_withdraw(
    *,
    customer: Customer,
    channel: Channel | None,
    topic: Topic | None,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    contact_point: ContactPoint | None = None,
    occurred_at: datetime | None = None,
    head: LedgerHead | None = None,
) -> ConsentEvent:
    """Withdraw marketing consent. None for channel or topic means all of them.

    A withdrawal is accepted from any source, at once, whatever the customer's state.
    ``head``: the writers' lock when the caller already holds it in this transaction.
    """
    _require_evidence(source=source, actor=actor)
    _require_marketing(topic)
    with _atomic(head):
        head = head or lock_head()
        return _record(
            head=head,
            customer=customer,
            apply=_apply_withdraw,
            action=ConsentEvent.Action.WITHDRAW,
            source=source,
            actor=actor,
            evidence=evidence,
            channel=channel,
            topic=topic,
            contact_point=contact_point,
            occurred_at=occurred_at,
        )


def _apply_opt_out_all(event: ConsentEvent) -> None:
    OptOut.objects.update_or_create(
        customer_id=event.customer_id,
        defaults={"event": event, "since": event.recorded_at},
    )
    ConsentState.objects.filter(customer_id=event.customer_id, status="granted").update(
        status="withdrawn",
        source=event.source,
        event=event,
        updated_at=event.recorded_at,
    )


@transaction.atomic
def consent_opt_out_all(
    *,
    customer: Customer,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    contact_point: ContactPoint | None = None,
    occurred_at: datetime | None = None,
) -> ConsentEvent:
    """Stop all marketing on every channel. Every earlier grant is withdrawn too, so
    asking for marketing again later restores nothing by itself."""
    _require_evidence(source=source, actor=actor)
    return _record(
        head=lock_head(),
        customer=customer,
        apply=_apply_opt_out_all,
        action=ConsentEvent.Action.OPT_OUT_ALL,
        source=source,
        actor=actor,
        evidence=evidence,
        contact_point=contact_point,
        occurred_at=occurred_at,
    )


@transaction.atomic
def consent_opt_in_all(
    *,
    customer: Customer,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    occurred_at: datetime | None = None,
) -> ConsentEvent:
    """Lift "stop all marketing". Only the customer, in the portal, may do this; it
    grants nothing by itself (each channel and topic is then granted explicitly)."""
    _require_evidence(source=source, actor=actor)
    if source != ConsentEvent.Source.PORTAL or str(actor) != str(
        Actor.customer(customer)
    ):
        raise ApplicationError(MSG_OPT_IN_PORTAL_ONLY, code="opt_in_portal_only")
    head = lock_head()
    customer.refresh_from_db(fields=["status"])
    if customer.status != Customer.Status.ACTIVE:
        raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
    if not OptOut.objects.filter(customer=customer).exists():
        raise ApplicationError(MSG_NOT_OPTED_OUT, code="not_opted_out")
    return _record(
        head=head,
        customer=customer,
        apply=lambda event: OptOut.objects.filter(customer=customer).delete(),
        action=ConsentEvent.Action.OPT_IN_ALL,
        source=source,
        actor=actor,
        evidence=evidence,
        occurred_at=occurred_at,
    )


# --- contact points -----------------------------------------------------------------


def _contact_event(
    *, head, contact_point: ContactPoint, action: str, source: str, actor, evidence
) -> list[SuppressionChange]:
    """Append the contact point's ledger row, republish its keys and write the head's
    positions once."""
    ledger_append(
        head=head,
        save_head=False,
        customer=contact_point.customer,
        contact_point=contact_point,
        action=action,
        source=source,
        actor=actor,
        evidence=evidence,
    )
    changes = contactability_refresh(
        head=head, blind_indexes={contact_point.blind_index}, save_head=False
    )
    head.save(update_fields=_HEAD_FIELDS)
    return changes


@transaction.atomic
def contact_point_add(
    *,
    customer: Customer,
    kind: str,
    address: str,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    verified: bool = False,
) -> ContactPoint:
    """Add an address (normalised, encrypted, indexed). Raises ValidationError on a
    badly formed address, with nothing written."""
    _require_evidence(source=source, actor=actor)
    normalised = normalise(kind, address)
    blind_index = ContactPoint.index_for(kind, normalised)
    head = lock_head()
    now = timezone.now()
    contact_point = ContactPoint.objects.filter(
        customer=customer, blind_index=blind_index
    ).first()
    if contact_point is not None and contact_point.removed_at is None:
        raise ValidationError({"address": MSG_CONTACT_EXISTS}, code="contact_exists")
    if contact_point is None:
        contact_point = ContactPoint(
            customer=customer, kind=kind, blind_index=blind_index
        )
    contact_point.address_encrypted = crypto.encrypt(normalised)
    contact_point.removed_at = None
    contact_point.status = ContactPoint.Status.ACTIVE
    contact_point.verified_at = now if verified else None
    contact_point.full_clean()
    contact_point.save()
    _contact_event(
        head=head,
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_ADDED,
        source=source,
        actor=actor,
        evidence=evidence,
    )
    return contact_point


def _contact_change(
    *, contact_point: ContactPoint, action: str, source: str, actor, evidence, **fields
) -> ContactPoint:
    _require_evidence(source=source, actor=actor)
    head = lock_head()
    contact_point.refresh_from_db()
    if (
        contact_point.removed_at is not None
        and action != ConsentEvent.Action.CONTACT_REMOVED
    ):
        raise ApplicationError(MSG_CONTACT_REMOVED, code="contact_removed")
    for name, value in fields.items():
        setattr(contact_point, name, value)
    contact_point.save(update_fields=list(fields))
    _contact_event(
        head=head,
        contact_point=contact_point,
        action=action,
        source=source,
        actor=actor,
        evidence=evidence,
    )
    return contact_point


@transaction.atomic
def contact_point_verify(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
) -> ContactPoint:
    """Record that the holder proved possession of the address (a code was entered)."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_VERIFIED,
        source=source,
        actor=actor,
        evidence=evidence,
        verified_at=timezone.now(),
    )


@transaction.atomic
def contact_point_remove(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
) -> ContactPoint:
    """Take an address off the customer's record; its keys lose this holder."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_REMOVED,
        source=source,
        actor=actor,
        evidence=evidence,
        removed_at=timezone.now(),
    )


@transaction.atomic
def contact_point_mark_not_me(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
) -> ContactPoint:
    """The person holding the address says it is not the customer's: suppress
    everything to it, for every customer sharing it."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_NOT_ME,
        source=source,
        actor=actor,
        evidence=evidence,
        status=ContactPoint.Status.NOT_ME,
    )


@transaction.atomic
def contact_point_mark_invalid(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
) -> ContactPoint:
    """The address does not work (hard bounce, dead number): suppress everything."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_INVALID,
        source=source,
        actor=actor,
        evidence=evidence,
        status=ContactPoint.Status.INVALID,
    )


@transaction.atomic
def contact_point_restore(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
) -> ContactPoint:
    """Clear a not-me or invalid flag (staff, after review)."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_RESTORED,
        source=source,
        actor=actor,
        evidence=evidence,
        status=ContactPoint.Status.ACTIVE,
    )


@transaction.atomic
def identifier_suppress(
    *, kind: str, address: str, reason: str, review_pending: bool = False
) -> SuppressedIdentifier:
    """Keep an identifier suppressed by its keyed hash alone (no clear value)."""
    normalised = normalise(kind, address)
    head = lock_head()
    blind_index = ContactPoint.index_for(kind, normalised)
    record, _created = SuppressedIdentifier.objects.get_or_create(
        blind_index=blind_index,
        reason=reason,
        defaults={"kind": kind, "review_pending": review_pending},
    )
    contactability_refresh(
        head=head,
        blind_indexes={blind_index},
        known_identifiers={blind_index: normalised},
    )
    return record
