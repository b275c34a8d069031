"""Grants and withdrawals of marketing consent, and "stop all marketing"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from consent import prepared
from consent.catalogue import catalogue
from consent.errors import ApplicationError
from consent.identifiers import AddressKind
from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    Topic,
)
from consent.services._common import (
    MSG_CHANNEL_INACTIVE,
    MSG_CUSTOMER_INACTIVE,
    MSG_NOT_OPTED_OUT,
    MSG_NOTICE_REQUIRED,
    MSG_OPT_IN_PORTAL_ONLY,
    MSG_OPTED_OUT,
    require_evidence,
    require_marketing_or_refusable,
)
from consent.staff_grants import STAFF_ENTERED_SOURCES, staff_grant_check
from consent.unit import ConsentChange, joined

GRANTED = ConsentState.Status.GRANTED
WITHDRAWN = ConsentState.Status.WITHDRAWN


def consent_states_write(
    cells: Iterable[tuple[Customer, Channel, Topic, str, ConsentEvent]],
) -> None:
    """Upsert projection rows (one statement, however many cells)."""
    rows = [
        ConsentState(
            customer_id=customer.pk,
            channel_id=channel.pk,
            topic_id=topic.pk,
            status=status,
            source=event.source,
            event_id=event.pk,
            updated_at=event.recorded_at,
        )
        for customer, channel, topic, status, event in cells
    ]
    if rows:
        ConsentState.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["customer", "channel", "topic"],
            update_fields=["status", "source", "event", "updated_at"],
        )


def grant_check(
    *,
    change: ConsentChange,
    customer: Customer,
    channel: Channel,
    topic: Topic,
    notice_version: NoticeVersion | None,
) -> None:
    """Everything a grant must satisfy, with the customer locked."""
    if notice_version is None:
        raise ValidationError(MSG_NOTICE_REQUIRED, code="notice_required")
    require_marketing_or_refusable(topic)
    if not channel.is_active:
        raise ApplicationError(MSG_CHANNEL_INACTIVE, code="channel_inactive")
    status = change.lock(customer).get(customer.pk)
    if status != Customer.Status.ACTIVE:
        raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
    # "Stop all marketing" does not cover service messages switched back on.
    if topic.is_marketing and OptOut.objects.filter(customer=customer).exists():
        raise ApplicationError(MSG_OPTED_OUT, code="opted_out")


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
    change: ConsentChange | None = None,
) -> ConsentEvent:
    """Record that the customer agreed to marketing on this channel about this topic.

    A grant entered by staff must meet ``consent.staff_grants`` (evidence of the
    customer's own act, a second approver, no recent self-service withdrawal)."""
    require_evidence(source=source, actor=actor)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        grant_check(
            change=change,
            customer=customer,
            channel=channel,
            topic=topic,
            notice_version=notice_version,
        )
        if source in STAFF_ENTERED_SOURCES:
            staff_grant_check(
                customer=customer,
                channel=channel,
                topic=topic,
                notice_version=notice_version,
                evidence=evidence or change.evidence,
                actor=actor,
                now=change.now,
            )
        event = change.record(
            customer=customer,
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
        consent_states_write([(customer, channel, topic, GRANTED, event)])
    return event


def apply_withdraw(event: ConsentEvent) -> int:
    """Projection of a withdrawal (shared with the ledger replay's rules): one cell,
    or every granted cell of the channel and/or topic. Returns the cells changed."""
    if event.channel_id and event.topic_id:
        consent_states_write(
            [(event.customer, event.channel, event.topic, WITHDRAWN, event)]
        )
        return 1
    # One statement written by hand: on a STOP, building it with the ORM cost
    # more than running it.
    sql = (
        "UPDATE consent_consentstate SET status = %s, source = %s, event_id = %s, "
        "updated_at = %s WHERE customer_id = %s AND status = %s"
    )
    params = [
        WITHDRAWN,
        event.source,
        event.pk,
        connection.ops.adapt_datetimefield_value(event.recorded_at),
        event.customer_id,
        GRANTED,
    ]
    if event.topic_id:
        sql += " AND topic_id = %s"
        params.append(event.topic_id)
    else:
        # Every marketing topic: a refusable service message is refused only by
        # its own cell (a STOP or "stop all marketing" leaves it alone).
        sql += " AND topic_id IN (SELECT id FROM consent_topic WHERE kind = %s)"
        params.append(Topic.Kind.MARKETING)
    if event.channel_id:
        sql += " AND channel_id = %s"
        params.append(event.channel_id)
    with prepared.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def grant_undone_by(state: ConsentState) -> ConsentEvent | None:
    """The grant a withdrawn cell had before its last withdrawal: the newest earlier
    grant that cites a notice (what undoing that withdrawal restores)."""
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


# Channels that a refusal covers together where the law links calls and texts.
CALLS_AND_TEXTS = {"sms": "voice", "voice": "sms"}


def _calling_code(number: str) -> int | None:
    try:
        return phonenumbers.parse(number, None).country_code
    except phonenumbers.NumberParseException:
        return None


def covered_channel(
    *,
    customer: Customer,
    channel: Channel | None,
    source: str,
    contact_point: ContactPoint | None = None,
) -> Channel | None:
    """The other of SMS and voice that a withdrawal also covers, or None.

    Where the number's country calling code is in ``CALLS_AND_TEXTS_LINKED_CODES``
    (+1 by default), refusing marketing texts refuses marketing calls too and the
    other way round, however it was said (a STOP reply, a call-centre note, an
    import). The portal is the exception: there the customer sets each channel
    themselves, switch by switch. The number is the one the refusal came from, or
    else any live verified phone of the customer.
    """
    partner = CALLS_AND_TEXTS.get(channel.code) if channel is not None else None
    linked = settings.CALLS_AND_TEXTS_LINKED_CODES
    if partner is None or not linked or source == ConsentEvent.Source.PORTAL:
        return None
    if contact_point is not None and contact_point.kind == AddressKind.PHONE:
        numbers = [contact_point.address]
    else:
        numbers = [
            cp.address
            for cp in ContactPoint.objects.filter(
                customer=customer,
                kind=AddressKind.PHONE,
                removed_at__isnull=True,
                verified_at__isnull=False,
            )
        ]
    if not any(_calling_code(number) in linked for number in numbers if number):
        return None
    other = catalogue().channel(partner)
    return other if other is not None and other.is_active else None


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
    change: ConsentChange | None = None,
) -> ConsentEvent:
    """Withdraw marketing consent. None for channel or topic means all of them.

    A withdrawal is accepted from any source, at once, whatever the customer's state.
    A service topic the customer may refuse (``Topic.customer_may_refuse``) can be
    withdrawn cell by cell; other service topics cannot.
    """
    require_evidence(source=source, actor=actor)
    require_marketing_or_refusable(topic)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        event = change.record(
            customer=customer,
            action=ConsentEvent.Action.WITHDRAW,
            source=source,
            actor=actor,
            evidence=evidence,
            channel=channel,
            topic=topic,
            contact_point=contact_point,
            occurred_at=occurred_at,
        )
        event.cells_changed = apply_withdraw(event)
        other = covered_channel(
            customer=customer,
            channel=channel,
            source=source,
            contact_point=contact_point,
        )
        event.covered = None
        if other is not None:
            covered = change.record(
                customer=customer,
                action=ConsentEvent.Action.WITHDRAW,
                source=source,
                actor=actor,
                evidence=evidence,
                channel=other,
                topic=topic,
                contact_point=contact_point,
                occurred_at=occurred_at,
                detail={"covered_by": channel.code, "rule": "calls_and_texts"},
            )
            event.covered = covered
            event.cells_changed += apply_withdraw(covered)
    return event


def consent_opt_out_all(
    *,
    customer: Customer,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    contact_point: ContactPoint | None = None,
    occurred_at: datetime | None = None,
    change: ConsentChange | None = None,
) -> ConsentEvent:
    """Stop all marketing on every channel. Every earlier grant is withdrawn too, so
    asking for marketing again later restores nothing by itself."""
    require_evidence(source=source, actor=actor)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        event = change.record(
            customer=customer,
            action=ConsentEvent.Action.OPT_OUT_ALL,
            source=source,
            actor=actor,
            evidence=evidence,
            contact_point=contact_point,
            occurred_at=occurred_at,
        )
        OptOut.objects.update_or_create(
            customer_id=customer.pk,
            defaults={"event_id": event.pk, "since": event.recorded_at},
        )
        event.cells_changed = apply_withdraw(event)
    return event


def consent_opt_in_all(
    *,
    customer: Customer,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    occurred_at: datetime | None = None,
    change: ConsentChange | None = None,
) -> ConsentEvent:
    """Lift "stop all marketing". Only the customer, in the portal, may do this; it
    grants nothing by itself (each channel and topic is then granted explicitly)."""
    require_evidence(source=source, actor=actor)
    if source != ConsentEvent.Source.PORTAL or str(actor) != str(
        Actor.customer(customer)
    ):
        raise ApplicationError(MSG_OPT_IN_PORTAL_ONLY, code="opt_in_portal_only")
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        status = change.lock(customer).get(customer.pk)
        if status != Customer.Status.ACTIVE:
            raise ApplicationError(MSG_CUSTOMER_INACTIVE, code="customer_inactive")
        if not OptOut.objects.filter(customer=customer).exists():
            raise ApplicationError(MSG_NOT_OPTED_OUT, code="not_opted_out")
        event = change.record(
            customer=customer,
            action=ConsentEvent.Action.OPT_IN_ALL,
            source=source,
            actor=actor,
            evidence=evidence,
            occurred_at=occurred_at,
        )
        OptOut.objects.filter(customer=customer).delete()
    return event
