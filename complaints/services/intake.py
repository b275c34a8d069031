"""Taking a complaint from any source, with protection applied at once."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from complaints.classification import (
    classification_text,
    classify,
    wants_no_marketing,
)
from complaints.deadlines import get_policy
from complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    IdentityVerification,
)
from complaints.services.base import (
    MSG_DESCRIPTION_REQUIRED,
    _recompute_due,
    _timeline,
    task_signature,
)
from complaints.services.escalation import _flag_major
from consent import crypto
from consent import services as consent_services
from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    Topic,
)

# --- intake --------------------------------------------------------------------------


def _reference(complaint: Complaint) -> str:
    return f"CMP-{timezone.localtime(complaint.received_at):%Y}-{complaint.pk:06d}"


def _contact_point_for(
    customer: Customer | None, channel: Channel | None
) -> ContactPoint | None:
    """The one live address of the customer on this channel, if there is exactly one."""
    if customer is None or channel is None:
        return None
    points = list(
        customer.contact_points.filter(
            kind=channel.address_kind, removed_at__isnull=True
        )[:2]
    )
    return points[0] if len(points) == 1 else None


def _protect(
    complaint: Complaint, *, actor: Actor | str, evidence: Evidence | None
) -> list[dict]:
    """Stop what the complaint asks to stop, now, through the consent services."""
    applied: list[dict] = []
    customer = complaint.customer
    text = f"{complaint.description}\n{complaint.message_excerpt}"
    stop_phrases = wants_no_marketing(text)
    evidence = Evidence(
        ip=evidence.ip if evidence else "",
        user_agent=evidence.user_agent if evidence else "",
        request_id=evidence.request_id if evidence else "",
        extra=(("complaint", complaint.reference),),
    )
    if customer is None:
        applied.append({"action": "none", "why": "no_customer"})
        return applied
    if complaint.category == Category.WRONG_PERSON:
        point = complaint.contact_point
        if point is None and complaint.source != Complaint.Source.PORTAL:
            point = _contact_point_for(customer, complaint.channel)
        if point is not None and point.status == ContactPoint.Status.ACTIVE:
            consent_services.contact_point_mark_not_me(
                contact_point=point,
                source=ConsentEvent.Source.COMPLAINT,
                actor=actor,
                evidence=evidence,
            )
            complaint.contact_point = point
            applied.append({"action": "not_me", "contact_point": point.masked})
        elif point is None:
            applied.append({"action": "none", "why": "no_contact_point"})
        return applied
    if complaint.category == Category.UNWANTED_MARKETING or stop_phrases:
        topic = complaint.topic
        if topic is not None and not topic.is_marketing:
            applied.append({"action": "none", "why": "service_topic"})
            return applied
        granted = ConsentState.objects.granted().filter(customer=customer)
        if complaint.channel is not None:
            granted = granted.filter(channel=complaint.channel)
        if topic is not None:
            granted = granted.filter(topic=topic)
        if not granted.exists():
            # Already withdrawn (a sending system's spam report withdraws before it
            # opens the complaint) or never granted: no second ledger row.
            applied.append({"action": "none", "why": "nothing_granted"})
            return applied
        event = consent_services.consent_withdraw(
            customer=customer,
            channel=complaint.channel,
            topic=topic,
            source=ConsentEvent.Source.COMPLAINT,
            actor=actor,
            evidence=evidence,
            contact_point=complaint.contact_point,
        )
        applied.append(
            {
                "action": "withdraw",
                "channel": complaint.channel.code if complaint.channel else "all",
                "topic": topic.code if topic else "all",
                "ledger_seq": event.seq,
                "because": stop_phrases or [complaint.category],
            }
        )
    return applied


def _describe_protection(applied: list[dict]) -> str:
    from complaints.selectors import protection_text

    return protection_text(applied)


def _default_verification(source: str, customer: Customer | None) -> str:
    """What each intake path proves about the complainant, unless staff say more."""
    if customer is None:
        return IdentityVerification.NOT_VERIFIED
    return {
        Complaint.Source.PORTAL: IdentityVerification.PORTAL_SIGN_IN,
        Complaint.Source.REPORT_LINK: IdentityVerification.SIGNED_LINK,
        Complaint.Source.SENDING_SYSTEM: IdentityVerification.SENDING_SYSTEM,
    }.get(source, IdentityVerification.NOT_VERIFIED)


@transaction.atomic
def complaint_create(
    *,
    source: str,
    description: str,
    actor: Actor | str,
    customer: Customer | None = None,
    contact_point: ContactPoint | None = None,
    channel: Channel | None = None,
    topic: Topic | None = None,
    category: str | None = None,
    message_excerpt: str = "",
    message_received_at: datetime | None = None,
    received_at: datetime | None = None,
    contact_kind: str = "",
    contact_address: str = "",
    external_id: str = "",
    complainant_count: int = 1,
    evidence: Evidence | None = None,
    identity_verification: str = "",
    report_token_hash: str = "",
) -> Complaint:
    """Take a complaint from any source: reference, deadlines, classification,
    protection and (after commit) the acknowledgement."""
    description = (description or "").strip()
    if not description and not message_excerpt.strip():
        raise ValidationError(
            {"description": MSG_DESCRIPTION_REQUIRED}, code="required"
        )
    received_at = received_at or timezone.now()
    suggestion = classify(classification_text(description, message_excerpt))
    policy = get_policy()
    complaint = Complaint(
        source=source,
        description=description,
        customer=customer,
        contact_point=contact_point,
        channel=channel,
        topic=topic,
        category=category or suggestion.code,
        suggested_category=suggestion.code,
        classification_evidence=suggestion.as_evidence(),
        message_excerpt=message_excerpt.strip(),
        message_received_at=message_received_at,
        received_at=received_at,
        clock_started_at=received_at,
        contact_kind=contact_kind,
        contact_address_encrypted=crypto.encrypt(contact_address)
        if contact_address
        else "",
        contact_blind_index=ContactPoint.index_for(contact_kind, contact_address)
        if contact_address and contact_kind
        else "",
        external_id=external_id,
        report_token_hash=report_token_hash,
        identity_verification=identity_verification
        or _default_verification(source, customer),
        complainant_count=max(1, complainant_count),
        policy=policy.code,
        ack_due_at=policy.ack_due(received_at),
        first_response_due_at=policy.first_response_due(received_at),
    )
    _recompute_due(complaint)
    complaint.full_clean(exclude=("reference",))
    complaint.save()
    complaint.reference = _reference(complaint)
    complaint.save(update_fields=["reference"])
    _timeline(
        complaint,
        ComplaintEvent.Kind.RECEIVED,
        actor,
        Complaint.Source(source).label,
        to_status=complaint.status,
    )
    complaint.protection = _protect(complaint, actor=actor, evidence=evidence)
    complaint.save(update_fields=["protection", "contact_point"])
    if any(item["action"] != "none" for item in complaint.protection):
        _timeline(
            complaint,
            ComplaintEvent.Kind.PROTECTION,
            actor,
            _describe_protection(complaint.protection),
        )
    if complaint.complainant_count >= settings.COMPLAINT_MAJOR_THRESHOLD:
        _flag_major([complaint], actor=actor)

    complaint_id = complaint.pk

    def acknowledge() -> None:
        task_signature("complaint_acknowledge_task", complaint_id).delay()

    transaction.on_commit(acknowledge)
    return complaint


def complaint_create_from_spam_report(
    *,
    customer: Customer | None,
    contact_point: ContactPoint | None,
    channel: Channel,
    topic: Topic | None,
    received_at: datetime,
    sender_name: str,
    event_id: str,
) -> Complaint:
    """Open a complaint for a sending system's ``spam_complaint`` event. A repeat of
    the same event returns the complaint already opened."""
    # One event may name an address shared by several customers: one complaint each.
    holder = (
        f"cp{contact_point.pk}"
        if contact_point
        else f"c{customer.pk}"
        if customer
        else "-"
    )
    external_id = f"{sender_name}:{event_id}:{holder}"
    if len(external_id) > 100:
        external_id = hashlib.sha256(external_id.encode()).hexdigest()
    existing = Complaint.objects.filter(
        source=Complaint.Source.SENDING_SYSTEM, external_id=external_id
    ).first()
    if existing is not None:
        return existing
    with translation.override(customer.preferred_language if customer else None):
        description = gettext(
            "The recipient reported a message sent by %(sender)s as spam."
        ) % {"sender": sender_name}
    return complaint_create(
        source=Complaint.Source.SENDING_SYSTEM,
        description=description,
        actor=Actor.client(sender_name),
        customer=customer,
        contact_point=contact_point,
        channel=channel,
        topic=topic,
        category=Category.UNWANTED_MARKETING,
        message_received_at=received_at,
        received_at=received_at,
        external_id=external_id,
    )


def complaint_create_from_violation(*, violation) -> Complaint:
    """A complaint record for a send the audit found not permitted: one per
    (sending system, key, day), linked to the first violation. It names no
    customer (nobody complained; it is the bank's own finding), so nothing is sent
    to anyone and no consent changes: the refusal is already in force."""
    day = timezone.localdate(violation.sent_at)
    external_id = hashlib.sha256(
        f"{violation.client_id}:{violation.channel_id}:{violation.blind_index}:{day}".encode()
    ).hexdigest()
    existing = Complaint.objects.filter(
        source=Complaint.Source.SEND_AUDIT, external_id=external_id
    ).first()
    if existing is not None:
        return existing
    description = gettext(
        "The send audit found a %(topic)s message sent on %(channel)s by "
        "%(sender)s that was not permitted at send time (%(reasons)s)."
    ) % {
        "topic": violation.topic.code,
        "channel": violation.channel.code,
        "sender": violation.client.name,
        "reasons": ", ".join(violation.reasons),
    }
    complaint = complaint_create(
        source=Complaint.Source.SEND_AUDIT,
        description=description,
        actor=Actor.system("send_audit"),
        channel=violation.channel,
        topic=violation.topic,
        category=Category.UNWANTED_MARKETING,
        message_received_at=violation.sent_at,
        external_id=external_id,
    )
    complaint.violation = violation
    complaint.save(update_fields=["violation"])
    return complaint
