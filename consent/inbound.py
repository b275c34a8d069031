"""Events that sending systems push: SMS replies, one-click unsubscribes, bounces,
spam complaints and sends.

``inbound_event_handle`` is one transaction: the event row, every consent change it
causes, the contactability keys and their feed rows commit together, so the change
is in the feed when the sender's request returns. The event row is unique per
(client, event id): a repeat, even a concurrent one, gets the first result back and
changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import hooks, keywords, prepared, services
from consent.contactability import Reason
from consent.decision import QuietHours, send_decision
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ApiClient,
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    InboundEvent,
    OptOut,
    SendRecord,
    SuppressedIdentifier,
    Topic,
    Violation,
)
from consent.unit import ConsentChange, consent_change, lock_keys_sql

MSG_EVENT_ID_REUSED = _(
    "This event id was already used for a different event. Send a new event id "
    "for a new event; a repeat must carry exactly the same body."
)

# Send records are kept only as long as a frequency cap looks back.
CAP_WINDOW = timedelta(days=7)

WITHDRAW = "withdraw"
INVALIDATE = "invalidate"
RECORDED = "recorded"
VIOLATION = "violation"
EFFECTS = (*keywords.EFFECTS, WITHDRAW, INVALIDATE, RECORDED, VIOLATION)

HARD = "hard"
SOFT = "soft"

# One confirmation per opt-out: a STOP repeated for the same key within this window,
# with nothing granted since, changes nothing and is not answered again.
STOP_CONFIRMATION_WINDOW = timedelta(hours=24)
REPLY_ALREADY_CONFIRMED = "already_confirmed"

# Replies that act by keyword, and the ledger source each records.
REPLY_TYPES = {
    InboundEvent.Type.SMS_REPLY: ConsentEvent.Source.SMS_KEYWORD,
    InboundEvent.Type.WECHAT_REPLY: ConsentEvent.Source.WECHAT,
}
REPLY_SOURCES = tuple(REPLY_TYPES.values())

# Reasons that mean somebody said no at a known moment.
_WITHDRAWAL_REASONS = frozenset(
    {Reason.WITHDRAWN, Reason.COMPLAINT, Reason.OPT_OUT_ALL}
)


@dataclass(frozen=True)
class InboundEventIn:
    """A validated, normalised event as the API hands it over."""

    type: str
    event_id: str
    channel: Channel
    identifier: str  # normalised (E.164, lower-cased e-mail)
    occurred_at: datetime
    topic: Topic | None = None
    text: str = ""
    bounce_type: str = ""
    detail: dict = field(default_factory=dict)
    # False when the sender left the time out (it is then "now", which a repeat
    # cannot match).
    occurred_at_given: bool = True
    # An unsubscribe's reach: product (the list it came from), channel or all.
    scope: str = services.UnsubscribeScope.PRODUCT

    @property
    def blind_index(self) -> str:
        return ContactPoint.index_for(self.channel.address_kind, self.identifier)


@dataclass
class _Outcome:
    effect: str
    needs_review: bool = False
    customers: int = 0
    consents_changed: int = 0
    contact_points_changed: int = 0
    reply_text: str | None = None
    reply_withheld: str | None = None
    violation: dict | None = None
    # A refusal kept against the identifier itself (nobody on file holds it).
    identifier_suppressed: bool = False
    # When a reply read from plain language must be reviewed by.
    review_due_at: datetime | None = None
    complaints: list[str] = field(default_factory=list)


# --- reads ---------------------------------------------------------------------------


# What a reply's handling reads of a holder's customer (no time stamps: those would
# need the database's converters; a read of them loads them).
_CUSTOMER_FIELDS = [
    "id",
    "external_ref",
    "display_name_encrypted",
    "preferred_language",
    "status",
]
# Written once by hand: the hottest read of a STOP, where building the query with
# the ORM cost more than running it. Columns are named (a prepared statement).
_POINT_COLUMNS = [f.column for f in ContactPoint._meta.concrete_fields]
_POINT_ATTNAMES = [f.attname for f in ContactPoint._meta.concrete_fields]
_HOLDERS_SQL = (
    "SELECT "
    + ", ".join(f"p.{column}" for column in _POINT_COLUMNS)
    + ", "
    + ", ".join(f"c.{name}" for name in _CUSTOMER_FIELDS)
    + """, EXISTS(SELECT 1 FROM consent_consentstate s
        WHERE s.customer_id = p.customer_id AND s.channel_id = %s AND s.status = %s)
    FROM consent_contactpoint p JOIN consent_customer c ON c.id = p.customer_id
    WHERE p.blind_index = %s AND p.removed_at IS NULL AND p.verified_at IS NOT NULL
        AND p.status <> %s
    ORDER BY p.customer_id"""
)
_REPEAT_SQL = (
    "SELECT id FROM consent_inboundevent WHERE client_id = %s AND event_id = %s"
)
# On PostgreSQL a reply or unsubscribe opens with one statement: the holders with
# their customers locked (id order), then the keys of those customers' addresses
# and of the identifier (key order: the order every unit locks in), whether the
# event id was seen before, and a ledger id per holder. A repeat has locked for
# nothing and leaves gaps in ids, which order nothing (the ledger's order is seq).
_OPEN_SQL = (
    f"WITH holders AS MATERIALIZED ({_HOLDERS_SQL} FOR UPDATE OF c), "
    "locked AS MATERIALIZED ("
    + lock_keys_sql("IN (SELECT customer_id FROM holders)", "ARRAY[%s]")
    + f") SELECT ({_REPEAT_SQL}), (SELECT count(*) FROM locked), "
    "nextval(pg_get_serial_sequence('consent_consentevent', 'id')), h.* "
    "FROM (SELECT 1) AS one LEFT JOIN holders h ON true"
)


def _holders_params(data: InboundEventIn) -> list:
    return [
        data.channel.pk,
        ConsentState.Status.GRANTED,
        data.blind_index,
        ContactPoint.Status.NOT_ME,
    ]


def _points(rows) -> list[ContactPoint]:
    split = len(_POINT_COLUMNS)
    points = []
    for row in rows:
        point = ContactPoint.from_db(connection.alias, _POINT_ATTNAMES, row[:split])
        point.customer = Customer.from_db(
            connection.alias, _CUSTOMER_FIELDS, row[split:-1]
        )
        point.granted_on_channel = bool(row[-1])
        points.append(point)
    return points


def _holders(data: InboundEventIn, *, lock: bool = False) -> list[ContactPoint]:
    """Live, verified contact points carrying the identifier, except those whose
    customer was told "not me": the person answering is not that customer, and an
    address nobody proved is nobody's. Each comes with its customer and whether
    that customer has marketing granted on the event's channel (whether a repeated
    STOP would change anything). With ``lock``, their customers are row-locked by
    the same statement, in id order (the order every unit locks in)."""
    sql = _HOLDERS_SQL
    if lock and connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF c"
    with prepared.cursor() as cursor:
        cursor.execute(sql, _holders_params(data))
        return _points(cursor.fetchall())


def _open(
    client: ApiClient, data: InboundEventIn, change: ConsentChange
) -> tuple[InboundEvent | None, list[ContactPoint]]:
    """The event stored earlier under this id (then nothing else matters), or the
    holders, their customers locked for the unit. One statement on PostgreSQL
    (``_OPEN_SQL``); on a STOP storm nearly every answer is "not seen before"."""
    if connection.vendor != "postgresql":
        with prepared.cursor() as cursor:
            cursor.execute(_REPEAT_SQL, [client.pk, data.event_id])
            first = cursor.fetchone()
        if first:
            return InboundEvent.objects.get(pk=first[0]), []
        return None, _holders(data, lock=True)
    with prepared.cursor() as cursor:
        params = [*_holders_params(data), data.blind_index, client.pk, data.event_id]
        cursor.execute(_OPEN_SQL, params)
        rows = cursor.fetchall()
    if rows[0][0] is not None:
        return InboundEvent.objects.get(pk=rows[0][0]), []
    change.reserved([row[2] for row in rows])
    holders = _points([row[3:] for row in rows if row[3] is not None])
    change.keys_locked(
        customers={cp.customer_id for cp in holders}, indexes={data.blind_index}
    )
    return None, holders


def _languages(holders: list[ContactPoint]) -> set[str]:
    return {cp.customer.preferred_language for cp in holders}


def _evidence(evidence: Evidence, data: InboundEventIn, **extra: str) -> Evidence:
    merged = dict(evidence.extra)
    merged.update({"event_id": data.event_id, "inbound": data.type, **extra})
    return dataclasses.replace(evidence, extra=tuple(sorted(merged.items())))


def _withdraw_channel(
    data, holders, actor, evidence, *, source: str, topic, change: ConsentChange
) -> int:
    """Withdraw for every holder; returns the consent cells actually changed (a
    withdrawal of something already withdrawn changes none)."""
    changed = 0
    for cp in holders:
        event = services.consent_withdraw(
            change=change,
            customer=cp.customer,
            channel=data.channel,
            topic=topic,
            source=source,
            actor=actor,
            evidence=evidence,
            contact_point=cp,
            occurred_at=data.occurred_at,
        )
        changed += getattr(event, "cells_changed", 0)
    return changed


def _stop_confirmed_recently(data: InboundEventIn) -> bool:
    """A STOP for this key (identifier, channel) was confirmed by a reply text in
    the last 24 hours, from any sending system."""
    results = InboundEvent.objects.filter(
        type=data.type,
        channel=data.channel,
        blind_index=data.blind_index,
        effect=keywords.STOP,
        occurred_at__gt=data.occurred_at - STOP_CONFIRMATION_WINDOW,
        occurred_at__lte=data.occurred_at,
    ).values_list("result", flat=True)
    return any((result or {}).get("reply_text") for result in results)


def _anything_granted(holders: list[ContactPoint]) -> bool:
    """Some holder has marketing granted on the event's channel (read with them)."""
    return any(getattr(cp, "granted_on_channel", True) for cp in holders)


# --- sms and wechat replies -----------------------------------------------------------


def keyword_withdrawn_states(
    *, contact_point: ContactPoint, channel: Channel
) -> list[ConsentState]:
    """The customer's consents on the channel that are withdrawn by a stop replied
    from this very number and by nothing since (their last event is that stop)."""
    return list(
        ConsentState.objects.filter(
            customer_id=contact_point.customer_id,
            channel=channel,
            status=ConsentState.Status.WITHDRAWN,
            event__action=ConsentEvent.Action.WITHDRAW,
            event__source__in=REPLY_SOURCES,
            event__contact_point__blind_index=contact_point.blind_index,
        )
        .select_related("topic", "event")
        .order_by("topic_id")
    )


def _sms_start(
    *,
    data: InboundEventIn,
    holders: list[ContactPoint],
    actor: Actor,
    evidence: Evidence,
    change: ConsentChange,
) -> int:
    """Undo stop replies, and nothing else: a withdrawal made any other way, and any
    "stop all marketing", stays (that needs the customer in the portal)."""
    opted_out = set(
        OptOut.objects.filter(
            customer_id__in=[cp.customer_id for cp in holders]
        ).values_list("customer_id", flat=True)
    )
    restored = 0
    for cp in holders:
        if cp.customer_id in opted_out or cp.customer.status != Customer.Status.ACTIVE:
            continue
        for state in keyword_withdrawn_states(contact_point=cp, channel=data.channel):
            original = services.grant_undone_by(state)
            if original is None:
                continue
            services.consent_grant(
                change=change,
                customer=cp.customer,
                channel=data.channel,
                topic=state.topic,
                source=REPLY_TYPES[data.type],
                actor=actor,
                notice_version=original.notice_version,
                evidence=_evidence(
                    evidence,
                    data,
                    restores_grant=str(original.seq),
                    undoes_withdrawal=str(state.event.seq),
                ),
                contact_point=cp,
                occurred_at=data.occurred_at,
            )
            restored += 1
    return restored


def _handle_reply(data, holders, actor, evidence, change) -> _Outcome:
    reading = keywords.interpret(data.text)
    outcome = _Outcome(
        effect=reading.effect, needs_review=reading.needs_review, customers=len(holders)
    )
    languages = _languages(holders)
    if reading.effect == keywords.NOT_ME:
        # The person answering says the number is not the addressee's: the
        # portal's "this is not me", proved by the reply coming from the number.
        result = services.identifier_mark_not_me(
            kind=data.channel.address_kind,
            address=data.identifier,
            source=REPLY_TYPES[data.type],
            actor=actor,
            evidence=evidence,
            change=change,
            via=data.type,
        )
        outcome.customers = result.linked
        outcome.contact_points_changed = len(result.marked)
        outcome.identifier_suppressed = result.linked == 0
        # Not the customers' language: the person is not one of them.
        outcome.reply_text = keywords.reply_text(
            keywords.NOT_ME, set(), channel=data.channel.code
        )
    elif reading.effect == keywords.STOP:
        if not _anything_granted(holders) and _stop_confirmed_recently(data):
            # The same opt-out again: already in force and already confirmed.
            outcome.reply_withheld = REPLY_ALREADY_CONFIRMED
            return outcome
        outcome.consents_changed = _withdraw_channel(
            data,
            holders,
            actor,
            evidence,
            source=REPLY_TYPES[data.type],
            topic=None,
            change=change,
        )
        if not holders:
            # Nobody on file holds the number: the refusal is kept against it, so
            # whoever registers it later starts with marketing suppressed here.
            outcome.identifier_suppressed = True
            services.identifier_suppress(
                kind=data.channel.address_kind,
                address=data.identifier,
                reason=SuppressedIdentifier.Reason.STOP,
                channel=data.channel,
                change=change,
            )
        outcome.reply_text = keywords.reply_text(
            keywords.STOP, languages, channel=data.channel.code
        )
    elif reading.effect == keywords.START:
        outcome.consents_changed = _sms_start(
            data=data, holders=holders, actor=actor, evidence=evidence, change=change
        )
        kind = keywords.START if outcome.consents_changed else "start_nothing"
        outcome.reply_text = keywords.reply_text(
            kind, languages, channel=data.channel.code
        )
    elif reading.effect == keywords.HELP:
        outcome.reply_text = keywords.reply_text(
            keywords.HELP, languages, channel=data.channel.code
        )
    return outcome


# --- e-mail unsubscribe, bounce, spam complaint ---------------------------------------


def _handle_unsubscribe(data, holders, actor, evidence, change) -> _Outcome:
    """An e-mail list's one-click unsubscribe, or a follower leaving a WeChat
    official account (or refusing its messages), at the event's scope: the list's
    product (the channel when the list is not known), the channel, or all
    marketing. The same service as the one-click page."""
    source = (
        ConsentEvent.Source.WECHAT
        if data.type == InboundEvent.Type.WECHAT_UNSUBSCRIBE
        else ConsentEvent.Source.ONE_CLICK
    )
    evidence = _evidence(evidence, data, scope=data.scope)
    changed = 0
    for cp in holders:
        done = services.consent_unsubscribe(
            change=change,
            customer=cp.customer,
            channel=data.channel,
            topic=data.topic,
            scope=data.scope,
            source=source,
            actor=actor,
            evidence=evidence,
            contact_point=cp,
            occurred_at=data.occurred_at,
        )
        changed += done.cells_changed
    return _Outcome(effect=WITHDRAW, customers=len(holders), consents_changed=changed)


def _handle_bounce(data, holders, actor, evidence, change) -> _Outcome:
    outcome = _Outcome(effect=keywords.NONE, customers=len(holders))
    if data.bounce_type != HARD:
        return outcome
    outcome.effect = INVALIDATE
    for cp in holders:
        if cp.status == ContactPoint.Status.INVALID:
            continue
        services.contact_point_mark_invalid(
            contact_point=cp,
            source=ConsentEvent.Source.API,
            actor=actor,
            evidence=evidence,
            change=change,
        )
        outcome.contact_points_changed += 1
    return outcome


def _handle_spam_complaint(data, holders, actor, evidence, client, change) -> _Outcome:
    changed = _withdraw_channel(
        data,
        holders,
        actor,
        evidence,
        source=ConsentEvent.Source.COMPLAINT,
        topic=None,
        change=change,
    )
    outcome = _Outcome(
        effect=WITHDRAW, customers=len(holders), consents_changed=changed
    )
    # Nobody on file still gets a complaint: the report itself is the grievance.
    for opener in hooks.registry.spam_report_handlers:
        for cp in holders or [None]:
            complaint = opener(
                customer=cp.customer if cp else None,
                contact_point=cp,
                channel=data.channel,
                topic=data.topic,
                received_at=data.occurred_at,
                sender_name=client.name,
                event_id=data.event_id,
            )
            reference = getattr(complaint, "reference", None)
            if reference and reference not in outcome.complaints:
                outcome.complaints.append(reference)
    return outcome


# --- sends and violations -----------------------------------------------------------


def _withdrawal_times(
    *, holders: list[ContactPoint], channel: Channel, topic: Topic
) -> list[datetime]:
    """When each standing refusal was made: the ledger's ``occurred_at`` (the moment
    the person said no, e.g. when the STOP reached the gateway), not when it was
    recorded here."""
    customer_ids = [cp.customer_id for cp in holders]
    times = list(
        ConsentState.objects.filter(
            customer_id__in=customer_ids,
            channel=channel,
            topic=topic,
            status=ConsentState.Status.WITHDRAWN,
        ).values_list("event__occurred_at", flat=True)
    )
    times += list(
        OptOut.objects.filter(customer_id__in=customer_ids).values_list(
            "event__occurred_at", flat=True
        )
    )
    return times


def send_violation_reasons(
    *, data: InboundEventIn, holders: list[ContactPoint]
) -> tuple[list[str], datetime | None]:
    """Why the send was not permitted at its time, and when the refusal was made
    (for withdrawals). The published key gives the state; a send reported late that
    happened before every standing withdrawal is not counted against the sender."""
    topic, sent_at = data.topic, data.occurred_at
    key = Contactability.objects.filter(
        blind_index=data.blind_index, channel=data.channel
    ).first()
    held: set[str] = set()
    if key is None:
        if topic.is_marketing:
            held.add(Reason.NO_CONSENT)
    elif topic.code not in key.permitted_topics:
        held.update(key.topic_reasons.get(topic.code) or [Reason.NO_CONSENT])
    withdrawn_at = None
    if held & _WITHDRAWAL_REASONS:
        before = [
            t
            for t in _withdrawal_times(
                holders=holders, channel=data.channel, topic=topic
            )
            if t <= sent_at
        ]
        if before:
            withdrawn_at = min(before)
        else:
            held -= _WITHDRAWAL_REASONS
    earlier = 0
    if key is not None and key.max_per_week is not None and topic.is_marketing:
        earlier = SendRecord.objects.filter(
            channel=data.channel,
            blind_index=data.blind_index,
            sent_at__gt=sent_at - CAP_WINDOW,
            sent_at__lte=sent_at,
        ).count()
    _allowed, reasons = send_decision(
        permitted=not held,
        held=sorted(held),
        marketing=topic.is_marketing,
        quiet_hours=key.quiet_hours if key else None,
        max_per_week=key.max_per_week if key else None,
        sent=earlier,
        clock=QuietHours(sent_at),
    )
    return sorted(reasons), withdrawn_at


def _handle_sent(data, holders, client, event: InboundEvent) -> _Outcome:
    reasons, withdrawn_at = send_violation_reasons(data=data, holders=holders)
    outcome = _Outcome(effect=RECORDED, customers=len(holders))
    if data.topic.is_marketing and data.occurred_at > timezone.now() - CAP_WINDOW:
        SendRecord.objects.create(
            blind_index=data.blind_index,
            channel=data.channel,
            topic=data.topic,
            client=client,
            sent_at=data.occurred_at,
        )
    if reasons:
        delay = data.occurred_at - withdrawn_at if withdrawn_at else None
        violation = Violation.objects.create(
            client=client,
            event=event,
            channel=data.channel,
            topic=data.topic,
            blind_index=data.blind_index,
            reasons=reasons,
            sent_at=data.occurred_at,
            withdrawn_at=withdrawn_at,
            delay=delay,
        )
        outcome.effect = VIOLATION
        outcome.violation = {
            "reasons": reasons,
            "withdrawn_at": withdrawn_at.isoformat() if withdrawn_at else None,
            "delay_seconds": round(delay.total_seconds()) if delay else None,
        }
        # Compliance learns at once: an incident, and a complaint record.
        for handler in hooks.registry.violation_handlers:
            reference = getattr(handler(violation=violation), "reference", None)
            if reference and reference not in outcome.complaints:
                outcome.complaints.append(reference)
    return outcome


# --- the entry point ----------------------------------------------------------------


def _payload(data: InboundEventIn) -> dict:
    payload = dict(data.detail)
    if data.text:
        payload["text"] = data.text
    if data.bounce_type:
        payload["bounce_type"] = data.bounce_type
    return payload


def _result(data: InboundEventIn, outcome: _Outcome, feed_seq: int | None) -> dict:
    return {
        "event_id": data.event_id,
        "type": data.type,
        "channel": data.channel.code,
        "effect": outcome.effect,
        "needs_review": outcome.needs_review,
        "customers": outcome.customers,
        "consents_changed": outcome.consents_changed,
        "contact_points_changed": outcome.contact_points_changed,
        "reply_text": outcome.reply_text,
        "reply_withheld": outcome.reply_withheld,
        "violation": outcome.violation,
        "complaints": outcome.complaints,
        "feed_seq": feed_seq,
        "identifier_suppressed": outcome.identifier_suppressed,
    }


def _claim(*, client: ApiClient, data: InboundEventIn) -> InboundEvent | None:
    """Insert the event row, or None when another request holds this event id.

    On PostgreSQL a concurrent duplicate waits on the unique index until the first
    commits and then fails here; the savepoint keeps the outer transaction usable.
    """
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(client=client, **_event_fields(data))
    except IntegrityError:
        return None


def _same_event(first: InboundEvent, data: InboundEventIn) -> bool:
    """A repeat carries the same body; the same id with another body is a client
    bug that must not be answered with the first event's result."""
    return (
        first.type == data.type
        and first.channel_id == data.channel.pk
        and first.blind_index == data.blind_index
        and first.topic_id == (data.topic.pk if data.topic else None)
        and (not data.occurred_at_given or first.occurred_at == data.occurred_at)
        and first.payload == _payload(data)
    )


def _repeat(first: InboundEvent, data: InboundEventIn) -> tuple[InboundEvent, bool]:
    if not _same_event(first, data):
        raise ApplicationError(
            MSG_EVENT_ID_REUSED, code="event_id_conflict", extra={"status": 409}
        )
    return first, True


def inbound_event_handle(
    *, client: ApiClient, data: InboundEventIn, evidence: Evidence | None = None
) -> tuple[InboundEvent, bool]:
    """Apply one pushed event. Returns the stored event and whether it was a repeat
    (its ``result`` is then the first one, and nothing was changed). The same event
    id with a different body raises ``ApplicationError`` (409)."""
    try:
        return _apply(client=client, data=data, evidence=evidence)
    except IntegrityError:
        # The unique index caught a duplicate that committed while this one ran:
        # the first one stands, and everything this one did was rolled back.
        first = InboundEvent.objects.filter(
            client=client, event_id=data.event_id
        ).first()
        if first is None:
            raise
        return _repeat(first, data)


def _apply(
    *, client: ApiClient, data: InboundEventIn, evidence: Evidence | None
) -> tuple[InboundEvent, bool]:
    """One unit of work: every consent change the event causes, the keys, their feed
    rows and the event row with its result, written last (it holds the feed
    position). A concurrent repeat waits on the event's unique index and fails
    there, rolling back everything it did; the caller then returns the first."""
    actor = Actor.client(client.name)
    evidence = _evidence(evidence or Evidence(), data)
    source = ConsentEvent.Source.API
    with consent_change(actor=actor, source=source, evidence=evidence) as change:
        if data.type == InboundEvent.Type.SENT:
            # The violation it may record points to the event row: claim it first.
            event = _claim(client=client, data=data)
            if event is None:
                first = InboundEvent.objects.get(client=client, event_id=data.event_id)
                return _repeat(first, data)
            outcome = _handle_sent(data, _holders(data), client, event)
            _finish(event, data, outcome, feed_seq=None)
            return event, False
        first, holders = _open(client, data, change)
        if first is not None:
            return _repeat(first, data)
        change.locked({cp.customer_id: cp.customer.status for cp in holders})
        if data.type in REPLY_TYPES:
            outcome = _handle_reply(data, holders, actor, evidence, change)
            if outcome.needs_review:
                # Read before the ordering step, which must stay a few statements.
                outcome.review_due_at = hooks.review_due(change.now)
        elif data.type in (
            InboundEvent.Type.EMAIL_UNSUBSCRIBE,
            InboundEvent.Type.WECHAT_UNSUBSCRIBE,
        ):
            outcome = _handle_unsubscribe(data, holders, actor, evidence, change)
        elif data.type == InboundEvent.Type.BOUNCE:
            outcome = _handle_bounce(data, holders, actor, evidence, change)
        else:
            outcome = _handle_spam_complaint(
                data, holders, actor, evidence, client, change
            )
        event = InboundEvent(client=client, **_event_fields(data))
        _fill(event, data, outcome, feed_seq=None)
        change.insert_when_sealed(event, position=("result", "feed_seq"))
    return event, False


def _event_fields(data: InboundEventIn) -> dict:
    return {
        "event_id": data.event_id,
        "type": data.type,
        "channel": data.channel,
        "blind_index": data.blind_index,
        "topic": data.topic,
        "occurred_at": data.occurred_at,
        "payload": _payload(data),
    }


def _fill(event: InboundEvent, data, outcome: _Outcome, feed_seq: int | None):
    event.effect = outcome.effect
    event.needs_review = outcome.needs_review
    event.result = _result(data, outcome, feed_seq)
    if outcome.needs_review:
        # Applied first, reviewed after: the queue wants it within a business day.
        event.review_status = InboundEvent.ReviewStatus.PENDING
        event.review_due_at = outcome.review_due_at


def _finish(event: InboundEvent, data, outcome: _Outcome, feed_seq: int | None):
    _fill(event, data, outcome, feed_seq)
    event.save(update_fields=["effect", "needs_review", "result"])


def send_record_purge(*, now: datetime | None = None) -> int:
    """Delete send records older than the frequency window: the only purpose they
    serve is counting sends for a cap."""
    cutoff = (now or timezone.now()) - CAP_WINDOW
    deleted, _by_model = SendRecord.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
