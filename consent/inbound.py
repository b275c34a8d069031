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
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from consent import hooks, keywords, services
from consent.contactability import Reason
from consent.ledger import Actor, Evidence, lock_head
from consent.models import (
    ApiClient,
    Channel,
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    Customer,
    InboundEvent,
    LedgerHead,
    OptOut,
    SendRecord,
    Topic,
    Violation,
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
    violation: dict | None = None
    complaints: list[str] = field(default_factory=list)


# --- reads ---------------------------------------------------------------------------


def _holders(data: InboundEventIn) -> list[ContactPoint]:
    """Live contact points carrying the identifier, except those whose customer was
    told "not me": the person answering is not that customer."""
    return list(
        ContactPoint.objects.filter(
            blind_index=data.blind_index, removed_at__isnull=True
        )
        .exclude(status=ContactPoint.Status.NOT_ME)
        .select_related("customer")
        .order_by("customer_id")
    )


def _languages(holders: list[ContactPoint]) -> set[str]:
    return {cp.customer.preferred_language for cp in holders}


def _evidence(evidence: Evidence, data: InboundEventIn, **extra: str) -> Evidence:
    merged = dict(evidence.extra)
    merged.update({"event_id": data.event_id, "inbound": data.type, **extra})
    return dataclasses.replace(evidence, extra=tuple(sorted(merged.items())))


def _withdraw_channel(
    data, holders, actor, evidence, *, source: str, topic, head=None
) -> int:
    for cp in holders:
        services.consent_withdraw(
            head=head,
            customer=cp.customer,
            channel=data.channel,
            topic=topic,
            source=source,
            actor=actor,
            evidence=evidence,
            contact_point=cp,
            occurred_at=data.occurred_at,
        )
    return len(holders)


# --- sms replies ---------------------------------------------------------------------


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
            event__source=ConsentEvent.Source.SMS_KEYWORD,
            event__contact_point__blind_index=contact_point.blind_index,
        )
        .select_related("topic", "event")
        .order_by("topic_id")
    )


def _original_grant(state: ConsentState) -> ConsentEvent | None:
    return (
        ConsentEvent.objects.filter(
            customer_id=state.customer_id,
            channel_id=state.channel_id,
            topic_id=state.topic_id,
            action=ConsentEvent.Action.GRANT,
            seq__lt=state.event.seq,
            notice_version__isnull=False,
        )
        .select_related("notice_version")
        .order_by("-seq")
        .first()
    )


def _sms_start(
    *,
    data: InboundEventIn,
    holders: list[ContactPoint],
    actor: Actor,
    evidence: Evidence,
    head: LedgerHead | None = None,
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
            original = _original_grant(state)
            if original is None:
                continue
            services.consent_grant(
                head=head,
                customer=cp.customer,
                channel=data.channel,
                topic=state.topic,
                source=ConsentEvent.Source.SMS_KEYWORD,
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


def _handle_sms_reply(data, holders, actor, evidence, head=None) -> _Outcome:
    reading = keywords.interpret(data.text)
    outcome = _Outcome(
        effect=reading.effect, needs_review=reading.needs_review, customers=len(holders)
    )
    languages = _languages(holders)
    if reading.effect == keywords.STOP:
        outcome.consents_changed = _withdraw_channel(
            data,
            holders,
            actor,
            evidence,
            source=ConsentEvent.Source.SMS_KEYWORD,
            topic=None,
            head=head,
        )
        outcome.reply_text = keywords.reply_text(keywords.STOP, languages)
    elif reading.effect == keywords.START:
        outcome.consents_changed = _sms_start(
            data=data, holders=holders, actor=actor, evidence=evidence, head=head
        )
        kind = keywords.START if outcome.consents_changed else "start_nothing"
        outcome.reply_text = keywords.reply_text(kind, languages)
    elif reading.effect == keywords.HELP:
        outcome.reply_text = keywords.reply_text(keywords.HELP, languages)
    return outcome


# --- e-mail unsubscribe, bounce, spam complaint ---------------------------------------


def _handle_email_unsubscribe(data, holders, actor, evidence, head=None) -> _Outcome:
    changed = _withdraw_channel(
        data,
        holders,
        actor,
        evidence,
        source=ConsentEvent.Source.ONE_CLICK,
        topic=data.topic,
        head=head,
    )
    return _Outcome(effect=WITHDRAW, customers=len(holders), consents_changed=changed)


def _handle_bounce(data, holders, actor, evidence) -> _Outcome:
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
        )
        outcome.contact_points_changed += 1
    return outcome


def _handle_spam_complaint(
    data, holders, actor, evidence, client, head=None
) -> _Outcome:
    changed = _withdraw_channel(
        data,
        holders,
        actor,
        evidence,
        source=ConsentEvent.Source.COMPLAINT,
        topic=None,
        head=head,
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


def _in_quiet_hours(quiet: dict | None, when: datetime) -> bool:
    if not quiet:
        return False
    local = when.astimezone(ZoneInfo(quiet.get("tz") or "UTC")).time()
    start, end = time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])
    if start <= end:
        return start <= local < end
    return local >= start or local < end


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
    reasons: set[str] = set()
    if key is None:
        if topic.is_marketing:
            reasons.add(Reason.NO_CONSENT)
    elif topic.code not in key.permitted_topics:
        reasons.update(key.topic_reasons.get(topic.code) or [Reason.NO_CONSENT])
    withdrawn_at = None
    if reasons & _WITHDRAWAL_REASONS:
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
            reasons -= _WITHDRAWAL_REASONS
    if key is not None and topic.is_marketing:
        if _in_quiet_hours(key.quiet_hours, sent_at):
            reasons.add(Reason.QUIET_HOURS)
        if key.max_per_week is not None:
            earlier = SendRecord.objects.filter(
                channel=data.channel,
                blind_index=data.blind_index,
                sent_at__gt=sent_at - CAP_WINDOW,
                sent_at__lte=sent_at,
            ).count()
            if earlier >= key.max_per_week:
                reasons.add(Reason.FREQUENCY_CAP)
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
        Violation.objects.create(
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
        "violation": outcome.violation,
        "complaints": outcome.complaints,
        "feed_seq": feed_seq,
    }


def _claim(*, client: ApiClient, data: InboundEventIn) -> InboundEvent | None:
    """Insert the event row, or None when another request holds this event id.

    On PostgreSQL a concurrent duplicate waits on the unique index until the first
    commits and then fails here; the savepoint keeps the outer transaction usable.
    """
    try:
        with transaction.atomic():
            return InboundEvent.objects.create(
                client=client,
                event_id=data.event_id,
                type=data.type,
                channel=data.channel,
                blind_index=data.blind_index,
                topic=data.topic,
                occurred_at=data.occurred_at,
                payload=_payload(data),
            )
    except IntegrityError:
        return None


_HEAD_ADVANCED_HERE = frozenset(
    {InboundEvent.Type.SMS_REPLY, InboundEvent.Type.EMAIL_UNSUBSCRIBE}
)


def inbound_event_handle(
    *, client: ApiClient, data: InboundEventIn, evidence: Evidence | None = None
) -> tuple[InboundEvent, bool]:
    """Apply one pushed event. Returns the stored event and whether it was a repeat
    (its ``result`` is then the first one, and nothing was changed)."""
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
        return first, True


@transaction.atomic
def _apply(
    *, client: ApiClient, data: InboundEventIn, evidence: Evidence | None
) -> tuple[InboundEvent, bool]:
    """Events that change consent take the ledger head first: that serialises them,
    so a repeat finds the first (committed) row, and the row is written once, at
    the end, with its result. A ``sent`` event takes no lock and claims its row
    first (the violation it may record points to it)."""
    actor = Actor.client(client.name)
    evidence = _evidence(evidence or Evidence(), data)
    if data.type == InboundEvent.Type.SENT:
        event = _claim(client=client, data=data)
        if event is None:
            return InboundEvent.objects.get(client=client, event_id=data.event_id), True
        outcome = _handle_sent(data, _holders(data), client, event)
        event.effect = outcome.effect
        event.needs_review = outcome.needs_review
        event.result = _result(data, outcome, None)
        event.save(update_fields=["effect", "needs_review", "result"])
        return event, False

    # Taken before any read of consent state, so the reads see the latest committed
    # changes and the feed position below is this event's own. The withdrawals
    # below get this head: the lock is held, and they advance it.
    head = lock_head()
    first = InboundEvent.objects.filter(client=client, event_id=data.event_id).first()
    if first is not None:
        return first, True
    feed_before = head.feed_seq
    holders = _holders(data)
    if data.type == InboundEvent.Type.SMS_REPLY:
        outcome = _handle_sms_reply(data, holders, actor, evidence, head)
    elif data.type == InboundEvent.Type.EMAIL_UNSUBSCRIBE:
        outcome = _handle_email_unsubscribe(data, holders, actor, evidence, head)
    elif data.type == InboundEvent.Type.BOUNCE:
        outcome = _handle_bounce(data, holders, actor, evidence)
    else:
        outcome = _handle_spam_complaint(data, holders, actor, evidence, client, head)
    # Only withdrawals advance this very head; bounces (and a complaint intake) go
    # through services that lock it themselves: read it back then.
    feed_after = (
        head.feed_seq
        if data.type in _HEAD_ADVANCED_HERE
        else LedgerHead.objects.get(pk=1).feed_seq
    )
    event = InboundEvent.objects.create(
        client=client,
        event_id=data.event_id,
        type=data.type,
        channel=data.channel,
        blind_index=data.blind_index,
        topic=data.topic,
        occurred_at=data.occurred_at,
        payload=_payload(data),
        effect=outcome.effect,
        needs_review=outcome.needs_review,
        result=_result(data, outcome, feed_after if feed_after > feed_before else None),
    )
    return event, False


def send_record_purge(*, now: datetime | None = None) -> int:
    """Delete send records older than the frequency window: the only purpose they
    serve is counting sends for a cap."""
    cutoff = (now or timezone.now()) - CAP_WINDOW
    deleted, _by_model = SendRecord.objects.filter(sent_at__lt=cutoff).delete()
    return deleted
