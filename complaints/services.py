"""Every write to complaints. Status changes only here, each on the timeline.

Intake applies protection at once (through the consent services, ledger source
``complaint``), before anyone triages the complaint. Messages to the customer are
stored, then sent through the pluggable sender after commit; ``sent_at`` is stored
when the sender accepted them (the proof a deadline was met).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from complaints.classification import classify, wants_no_marketing
from complaints.deadlines import get_policy
from complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintExtension,
    ComplaintMessage,
    ComplaintNote,
    ComplaintReview,
    Escalation,
    Matter,
    RootCause,
)
from consent import crypto
from consent import services as consent_services
from consent.backoffice.roles import COMPLAINT_HANDLER, SUPERVISOR, user_has_role
from consent.errors import ApplicationError
from consent.identifiers import mask
from consent.ledger import Actor, Evidence
from consent.models import Channel, ConsentEvent, ContactPoint, Customer, Topic

MSG_DESCRIPTION_REQUIRED = _("Please describe what happened.")
MSG_ILLEGAL_TRANSITION = _("A complaint cannot go from %(from)s to %(to)s.")
MSG_NOT_SUPERVISOR = _("Only a supervisor can do this.")
MSG_NOT_HANDLER = _("Complaints can only be assigned to complaint handlers or supervisors.")
MSG_RECUSED = _("This person is named in the complaint or made its first decision.")
MSG_ASSIGN_OTHERS = _("A handler can only take unassigned complaints for themselves.")
MSG_NO_EXTENSION = _("The deadline policy allows no further extension.")
MSG_REASON_REQUIRED = _("Give a reason.")
MSG_NOT_OPEN = _("This complaint is no longer open.")
MSG_ALREADY_PAUSED = _("The clock is already paused.")
MSG_NOT_PAUSED = _("The clock is not paused.")
MSG_PAUSE_REASON = _("The clock pauses only for an external appraisal or mediation.")
MSG_EXTENSION_NOT_PENDING = _("This extension is not waiting for approval.")
MSG_EXTENSION_PENDING = _("An extension is already waiting for approval.")
MSG_FINDINGS_REQUIRED = _("A decision needs findings and reasons.")
MSG_ROOT_CAUSE_REQUIRED = _("Record the root cause before closing.")
MSG_REMEDIATION_REQUIRED = _("Record the remediation action and its owner before closing.")
MSG_RATING_RANGE = _("Choose a score from 1 to 5.")
MSG_RATING_NOT_DECIDED = _("You can rate a complaint once it has been decided.")
MSG_ALREADY_RATED = _("This complaint has already been rated.")
MSG_REVIEW_NOT_DECIDED = _("A review can only be asked for after a decision.")
MSG_REVIEW_WINDOW = _("The time to ask for a review of this decision has passed.")
MSG_REVIEW_OPEN = _("A review of this decision is already under way.")
MSG_REVIEW_DECIDED = _("This review has already been decided.")
MSG_NOT_REVIEWER = _("Only the assigned reviewer can decide this review.")
MSG_NOT_CUSTOMERS = _("This complaint belongs to another customer.")

PAUSE_REASONS = {
    "appraisal": _("an external appraisal"),
    "mediation": _("mediation"),
}

TRANSITIONS: dict[str, tuple[str, ...]] = {
    Complaint.Status.RECEIVED: (Complaint.Status.ACKNOWLEDGED,),
    Complaint.Status.ACKNOWLEDGED: (Complaint.Status.INVESTIGATING,),
    Complaint.Status.INVESTIGATING: (Complaint.Status.RESOLVED, Complaint.Status.REJECTED),
    Complaint.Status.RESOLVED: (Complaint.Status.CLOSED, Complaint.Status.INVESTIGATING),
    Complaint.Status.REJECTED: (Complaint.Status.CLOSED, Complaint.Status.INVESTIGATING),
    Complaint.Status.CLOSED: (Complaint.Status.INVESTIGATING,),
}


# --- helpers -------------------------------------------------------------------------


def is_supervisor(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or user_has_role(user, SUPERVISOR)


def _require_supervisor(user) -> None:
    if not is_supervisor(user):
        raise ApplicationError(MSG_NOT_SUPERVISOR, code="not_supervisor")


def _lock(complaint: Complaint) -> Complaint:
    """Reload under a row lock so two handlers cannot cross transitions."""
    fresh = Complaint.objects.select_for_update().get(pk=complaint.pk)
    complaint.__dict__.update(fresh.__dict__)
    return complaint


def _timeline(
    complaint: Complaint,
    kind: str,
    actor: Actor | str,
    detail: str = "",
    *,
    from_status: str = "",
    to_status: str = "",
) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint,
        kind=kind,
        actor=str(actor),
        detail=str(detail),
        from_status=from_status,
        to_status=to_status,
        at=timezone.now(),
    )


def _transition(complaint: Complaint, to: str, actor: Actor | str, detail: str = "") -> None:
    current = complaint.status
    if to not in TRANSITIONS.get(current, ()):
        raise ApplicationError(
            MSG_ILLEGAL_TRANSITION
            % {
                "from": Complaint.Status(current).label,
                "to": Complaint.Status(to).label,
            },
            code="illegal_transition",
        )
    complaint.status = to
    _timeline(
        complaint, ComplaintEvent.Kind.STATUS, actor, detail,
        from_status=current, to_status=to,
    )


def _recompute_due(complaint: Complaint) -> None:
    policy = get_policy(complaint.policy)
    complaint.due_at = policy.due(
        complaint.clock_started_at,
        extension_step=complaint.extension_step,
        paused=complaint.paused_total,
    )


def _language(complaint: Complaint) -> str:
    if complaint.customer_id and complaint.customer.preferred_language:
        return complaint.customer.preferred_language
    return settings.LANGUAGE_CODE


def _when(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _recipient(complaint: Complaint) -> tuple[str, str] | None:
    """Where replies go: the address given with the complaint, else the customer's
    verified e-mail, else their verified phone. Never a not-me or invalid address."""
    if complaint.contact_address_encrypted:
        return complaint.contact_address, complaint.contact_kind
    if complaint.customer_id is None:
        return None
    points = [
        cp
        for cp in complaint.customer.contact_points.all()
        if cp.status == ContactPoint.Status.ACTIVE
        and cp.removed_at is None
        and cp.verified_at is not None
        and cp.kind in ("email", "phone")
    ]
    points.sort(key=lambda cp: (cp.kind != "email", cp.created_at))
    if not points:
        return None
    return points[0].address, points[0].kind


def _message(
    complaint: Complaint, *, kind: str, subject: str, body: str, actor: Actor | str
) -> ComplaintMessage:
    """Store the message and send it after commit; the portal shows it either way."""
    recipient = _recipient(complaint)
    message = ComplaintMessage.objects.create(
        complaint=complaint,
        kind=kind,
        subject=subject,
        body=body,
        author=str(actor),
        recipient=mask(recipient[1], recipient[0]) if recipient else "",
    )
    _timeline(
        complaint, ComplaintEvent.Kind.MESSAGE, actor,
        ComplaintMessage.Kind(kind).label,
    )
    if recipient is None:
        if complaint.customer_id:
            # Only the portal carries it: publishing it there is the sending.
            _mark_sent(message, timezone.now())
        return message
    to, address_kind = recipient
    message_id = message.pk

    def send() -> None:
        from complaints.tasks import complaint_message_sent_task
        from consent.tasks import send_message_task

        (
            send_message_task.si(
                to=to, kind=address_kind, subject=subject, body=body,
                purpose=f"complaint_{kind}",
            )
            | complaint_message_sent_task.si(message_id)
        ).delay()

    transaction.on_commit(send)
    return message


def _mark_sent(message: ComplaintMessage, when: datetime) -> None:
    message.sent_at = when
    message.save(update_fields=["sent_at"])
    if message.kind == ComplaintMessage.Kind.DECISION:
        Complaint.objects.filter(pk=message.complaint_id, decision_sent_at__isnull=True).update(
            decision_sent_at=when
        )


@transaction.atomic
def complaint_message_mark_sent(*, message_id: int, sent_at: datetime | None = None) -> None:
    """Record that the sender accepted the message (called once it has)."""
    message = ComplaintMessage.objects.select_for_update().get(pk=message_id)
    if message.sent_at is None:
        _mark_sent(message, sent_at or timezone.now())


def _staff_users_with_role(role: str):
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role)
        .exclude(email="")
        .distinct()
    )


def _notify_supervisors(subject: str, body: str) -> int:
    """Alert every supervisor after commit. The text carries references, no
    personal data."""
    addresses = list(_staff_users_with_role(SUPERVISOR).values_list("email", flat=True))

    def send() -> None:
        from consent.tasks import send_message_task

        for address in addresses:
            send_message_task.delay(
                to=address, kind="staff", subject=subject, body=body,
                purpose="complaint_escalation",
            )

    if addresses:
        transaction.on_commit(send)
    return len(addresses)


# --- intake --------------------------------------------------------------------------


def _reference(complaint: Complaint) -> str:
    return f"CMP-{timezone.localtime(complaint.received_at):%Y}-{complaint.pk:06d}"


def _contact_point_for(customer: Customer | None, channel: Channel | None) -> ContactPoint | None:
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
                contact_point=point, source=ConsentEvent.Source.COMPLAINT,
                actor=actor, evidence=evidence,
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
    parts = []
    for item in applied:
        if item["action"] == "withdraw":
            parts.append(
                gettext("Marketing withdrawn: channel %(channel)s, product %(topic)s")
                % {"channel": item["channel"], "topic": item["topic"]}
            )
        elif item["action"] == "not_me":
            parts.append(
                gettext("Contact point %(address)s marked not me")
                % {"address": item["contact_point"]}
            )
    return "; ".join(parts)


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
) -> Complaint:
    """Take a complaint from any source: reference, deadlines, classification,
    protection and (after commit) the acknowledgement."""
    description = (description or "").strip()
    if not description and not message_excerpt.strip():
        raise ValidationError({"description": MSG_DESCRIPTION_REQUIRED}, code="required")
    received_at = received_at or timezone.now()
    suggestion = classify(f"{description}\n{message_excerpt}")
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
        contact_address_encrypted=crypto.encrypt(contact_address) if contact_address else "",
        external_id=external_id,
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
        complaint, ComplaintEvent.Kind.RECEIVED, actor,
        Complaint.Source(source).label, to_status=complaint.status,
    )
    complaint.protection = _protect(complaint, actor=actor, evidence=evidence)
    complaint.save(update_fields=["protection", "contact_point"])
    if any(item["action"] != "none" for item in complaint.protection):
        _timeline(
            complaint, ComplaintEvent.Kind.PROTECTION, actor,
            _describe_protection(complaint.protection),
        )
    if complaint.complainant_count >= settings.COMPLAINT_MAJOR_THRESHOLD:
        _flag_major([complaint], actor=actor)

    complaint_id = complaint.pk

    def acknowledge() -> None:
        from complaints.tasks import complaint_acknowledge_task

        complaint_acknowledge_task.delay(complaint_id)

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
    external_id = f"{sender_name}:{event_id}"[:100]
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


# --- acknowledgement and workflow -----------------------------------------------------


@transaction.atomic
def complaint_acknowledge(*, complaint: Complaint, actor: Actor | str) -> Complaint:
    """Tell the customer we have it, its reference and the decision deadline.
    Running twice changes nothing."""
    _lock(complaint)
    if complaint.status != Complaint.Status.RECEIVED:
        return complaint
    with translation.override(_language(complaint)):
        subject = gettext("Complaint %(reference)s received") % {
            "reference": complaint.reference
        }
        body = gettext(
            "We received your complaint %(reference)s on %(received)s. We will send "
            "you our decision by %(due)s. You can follow it in the self-service portal."
        ) % {
            "reference": complaint.reference,
            "received": _when(complaint.received_at),
            "due": _when(complaint.due_at),
        }
    _message(
        complaint, kind=ComplaintMessage.Kind.ACKNOWLEDGEMENT,
        subject=subject, body=body, actor=actor,
    )
    _transition(complaint, Complaint.Status.ACKNOWLEDGED, actor)
    complaint.acknowledged_at = timezone.now()
    complaint.save(update_fields=["status", "acknowledged_at", "updated_at"])
    return complaint


@transaction.atomic
def complaint_start_investigation(*, complaint: Complaint, user) -> Complaint:
    _lock(complaint)
    _transition(complaint, Complaint.Status.INVESTIGATING, Actor.staff(user))
    if complaint.assignee_id is None:
        complaint.assignee = user
        _timeline(complaint, ComplaintEvent.Kind.ASSIGNED, Actor.staff(user), user.get_username())
    complaint.save(update_fields=["status", "assignee", "updated_at"])
    return complaint


def _can_handle(user) -> bool:
    return bool(user.is_superuser) or user_has_role(user, COMPLAINT_HANDLER) or (
        user_has_role(user, SUPERVISOR)
    )


def _recused(complaint: Complaint, user) -> bool:
    if complaint.named_staff.filter(pk=user.pk).exists():
        return True
    return False


@transaction.atomic
def complaint_assign(*, complaint: Complaint, assignee, by) -> Complaint:
    """Supervisors assign anyone; a handler may only take an unassigned complaint."""
    _lock(complaint)
    if not is_supervisor(by) and (assignee != by or complaint.assignee_id is not None):
        raise ApplicationError(MSG_ASSIGN_OTHERS, code="assign_others")
    if not _can_handle(assignee):
        raise ApplicationError(MSG_NOT_HANDLER, code="not_handler")
    if _recused(complaint, assignee):
        raise ApplicationError(MSG_RECUSED, code="recused")
    complaint.assignee = assignee
    complaint.save(update_fields=["assignee", "updated_at"])
    _timeline(complaint, ComplaintEvent.Kind.ASSIGNED, Actor.staff(by), assignee.get_username())
    return complaint


@transaction.atomic
def complaint_note_add(*, complaint: Complaint, author, text: str) -> ComplaintNote:
    """An internal note: staff only, never sent or shown to the customer."""
    if not text.strip():
        raise ValidationError({"text": MSG_REASON_REQUIRED}, code="required")
    note = ComplaintNote(complaint=complaint, author=author, text=text.strip())
    note.full_clean()
    note.save()
    return note


@transaction.atomic
def complaint_reply(*, complaint: Complaint, user, text: str) -> ComplaintMessage:
    """A reply to the customer: shown in the portal and sent through the sender."""
    if not text.strip():
        raise ValidationError({"text": MSG_REASON_REQUIRED}, code="required")
    _lock(complaint)
    with translation.override(_language(complaint)):
        subject = gettext("Your complaint %(reference)s") % {
            "reference": complaint.reference
        }
    return _message(
        complaint, kind=ComplaintMessage.Kind.REPLY, subject=subject,
        body=text.strip(), actor=Actor.staff(user),
    )


@transaction.atomic
def complaint_recategorise(*, complaint: Complaint, category: str, user) -> Complaint:
    """Correct the category; the timeline keeps the suggestion and the correction."""
    _lock(complaint)
    category = Category(category)
    if category == complaint.category:
        return complaint
    detail = gettext("%(old)s → %(new)s (suggested: %(suggested)s)") % {
        "old": complaint.category,
        "new": category.value,
        "suggested": complaint.suggested_category or "-",
    }
    complaint.category = category
    complaint.save(update_fields=["category", "updated_at"])
    _timeline(complaint, ComplaintEvent.Kind.CATEGORY, Actor.staff(user), detail)
    return complaint


# --- deadlines: extension, pause, new facts -------------------------------------------


def _require_open(complaint: Complaint) -> None:
    if not complaint.is_open:
        raise ApplicationError(MSG_NOT_OPEN, code="not_open")


def _apply_extension(complaint: Complaint, extension: ComplaintExtension, actor) -> None:
    complaint.extension_step = extension.step
    complaint.extension_reason = extension.reason
    _recompute_due(complaint)
    complaint.save(
        update_fields=["extension_step", "extension_reason", "due_at", "updated_at"]
    )
    _timeline(
        complaint, ComplaintEvent.Kind.EXTENDED, actor,
        gettext("Step %(step)d, due %(due)s: %(reason)s")
        % {"step": extension.step, "due": _when(complaint.due_at), "reason": extension.reason},
    )
    with translation.override(_language(complaint)):
        subject = gettext("More time needed for complaint %(reference)s") % {
            "reference": complaint.reference
        }
        body = gettext(
            "We need more time to look into your complaint %(reference)s: %(reason)s "
            "We will now send you our decision by %(due)s."
        ) % {
            "reference": complaint.reference,
            "reason": extension.reason,
            "due": _when(complaint.due_at),
        }
    _message(
        complaint, kind=ComplaintMessage.Kind.EXTENSION,
        subject=subject, body=body, actor=actor,
    )


@transaction.atomic
def complaint_extend(*, complaint: Complaint, reason: str, user) -> ComplaintExtension:
    """Take the policy's next extension step. A step that needs a supervisor is only
    requested unless a supervisor asks for it; the customer is told when it applies."""
    _lock(complaint)
    _require_open(complaint)
    if not reason.strip():
        raise ValidationError({"reason": MSG_REASON_REQUIRED}, code="required")
    if complaint.extensions.filter(status=ComplaintExtension.Status.PENDING).exists():
        raise ApplicationError(MSG_EXTENSION_PENDING, code="extension_pending")
    step = get_policy(complaint.policy).next_extension(complaint.extension_step)
    if step is None:
        raise ApplicationError(MSG_NO_EXTENSION, code="no_extension")
    approved = not step.needs_supervisor or is_supervisor(user)
    now = timezone.now()
    extension = ComplaintExtension.objects.create(
        complaint=complaint,
        step=complaint.extension_step + 1,
        reason=reason.strip(),
        status=ComplaintExtension.Status.APPROVED if approved else (
            ComplaintExtension.Status.PENDING
        ),
        requested_by=user,
        requested_at=now,
        approved_by=user if approved else None,
        approved_at=now if approved else None,
    )
    if approved:
        _apply_extension(complaint, extension, Actor.staff(user))
    else:
        _timeline(
            complaint, ComplaintEvent.Kind.EXTENSION_REQUESTED, Actor.staff(user),
            extension.reason,
        )
    return extension


@transaction.atomic
def complaint_extension_approve(*, extension: ComplaintExtension, user) -> ComplaintExtension:
    _require_supervisor(user)
    extension = ComplaintExtension.objects.select_for_update().get(pk=extension.pk)
    if extension.status != ComplaintExtension.Status.PENDING:
        raise ApplicationError(MSG_EXTENSION_NOT_PENDING, code="not_pending")
    complaint = _lock(extension.complaint)
    _require_open(complaint)
    extension.status = ComplaintExtension.Status.APPROVED
    extension.approved_by = user
    extension.approved_at = timezone.now()
    extension.save(update_fields=["status", "approved_by", "approved_at"])
    _apply_extension(complaint, extension, Actor.staff(user))
    return extension


@transaction.atomic
def complaint_clock_pause(*, complaint: Complaint, reason: str, user) -> Complaint:
    """Stop the clock for an external appraisal or mediation and tell the customer
    (time only stops counting once they are told)."""
    _lock(complaint)
    _require_open(complaint)
    if reason not in PAUSE_REASONS:
        raise ValidationError({"reason": MSG_PAUSE_REASON}, code="invalid")
    if complaint.paused_at is not None:
        raise ApplicationError(MSG_ALREADY_PAUSED, code="paused")
    complaint.paused_at = timezone.now()
    complaint.pause_reason = reason
    complaint.save(update_fields=["paused_at", "pause_reason", "updated_at"])
    _timeline(complaint, ComplaintEvent.Kind.PAUSED, Actor.staff(user), reason)
    with translation.override(_language(complaint)):
        subject = gettext("Complaint %(reference)s: time limit paused") % {
            "reference": complaint.reference
        }
        body = gettext(
            "The time limit for your complaint %(reference)s is paused while "
            "%(what)s takes place. We will tell you when it runs again."
        ) % {"reference": complaint.reference, "what": PAUSE_REASONS[reason]}
    _message(
        complaint, kind=ComplaintMessage.Kind.PAUSE,
        subject=subject, body=body, actor=Actor.staff(user),
    )
    return complaint


@transaction.atomic
def complaint_clock_resume(*, complaint: Complaint, user) -> Complaint:
    _lock(complaint)
    if complaint.paused_at is None:
        raise ApplicationError(MSG_NOT_PAUSED, code="not_paused")
    complaint.paused_total += timezone.now() - complaint.paused_at
    complaint.paused_at = None
    complaint.pause_reason = ""
    _recompute_due(complaint)
    complaint.save(
        update_fields=["paused_total", "paused_at", "pause_reason", "due_at", "updated_at"]
    )
    _timeline(
        complaint, ComplaintEvent.Kind.RESUMED, Actor.staff(user),
        gettext("Due %(due)s") % {"due": _when(complaint.due_at)},
    )
    return complaint


@transaction.atomic
def complaint_new_facts(*, complaint: Complaint, text: str, actor: Actor | str) -> Complaint:
    """New facts or reasons from the customer restart the clock (CN rules)."""
    if not text.strip():
        raise ValidationError({"text": MSG_DESCRIPTION_REQUIRED}, code="required")
    _lock(complaint)
    _require_open(complaint)
    complaint.clock_started_at = timezone.now()
    complaint.paused_total = timedelta(0)
    complaint.paused_at = None
    complaint.pause_reason = ""
    _recompute_due(complaint)
    complaint.save(
        update_fields=[
            "clock_started_at", "paused_total", "paused_at", "pause_reason",
            "due_at", "updated_at",
        ]
    )
    _timeline(complaint, ComplaintEvent.Kind.NEW_FACTS, actor, text.strip())
    return complaint


# --- decision, closure, reopening, rating ---------------------------------------------


def _remedies_text(policy_code: str) -> str:
    days = get_policy(policy_code).review_window_days
    return gettext(
        "If you disagree with this decision you may ask us to review it within "
        "%(days)d days, in the self-service portal or by contacting us. You may also "
        "ask for mediation, apply for arbitration or go to court."
    ) % {"days": days}


@transaction.atomic
def complaint_decide(
    *, complaint: Complaint, outcome: str, findings: str, reasons: str, user
) -> Complaint:
    """Decide and send the decision letter; the deadline is met when it is sent."""
    if not findings.strip() or not reasons.strip():
        raise ValidationError({"findings": MSG_FINDINGS_REQUIRED}, code="required")
    _lock(complaint)
    outcome = Complaint.Outcome(outcome)
    target = (
        Complaint.Status.REJECTED
        if outcome == Complaint.Outcome.NOT_UPHELD
        else Complaint.Status.RESOLVED
    )
    _transition(complaint, target, Actor.staff(user), outcome.label)
    complaint.outcome = outcome
    complaint.findings = findings.strip()
    complaint.reasons = reasons.strip()
    complaint.decided_at = timezone.now()
    complaint.decided_by = user
    complaint.decision_sent_at = None
    if complaint.paused_at is not None:
        complaint.paused_total += complaint.decided_at - complaint.paused_at
        complaint.paused_at = None
        _recompute_due(complaint)
    complaint.save()
    with translation.override(_language(complaint)):
        subject = gettext("Decision on your complaint %(reference)s") % {
            "reference": complaint.reference
        }
        body = "\n\n".join(
            [
                gettext("Outcome: %(outcome)s") % {"outcome": outcome.label},
                gettext("What we found: %(findings)s") % {"findings": complaint.findings},
                gettext("Our reasons: %(reasons)s") % {"reasons": complaint.reasons},
                _remedies_text(complaint.policy),
            ]
        )
    _message(
        complaint, kind=ComplaintMessage.Kind.DECISION,
        subject=subject, body=body, actor=Actor.staff(user),
    )
    return complaint


@transaction.atomic
def complaint_close(
    *,
    complaint: Complaint,
    root_cause: str,
    remediation_action: str = "",
    remediation_owner: str = "",
    user,
) -> Complaint:
    """Close a decided complaint. The root cause is required; so are a remediation
    action and owner unless no fault was found."""
    _lock(complaint)
    if not root_cause:
        raise ValidationError({"root_cause": MSG_ROOT_CAUSE_REQUIRED}, code="required")
    root_cause = RootCause(root_cause)
    if root_cause != RootCause.NO_FAULT and not (
        remediation_action.strip() and remediation_owner.strip()
    ):
        raise ValidationError(
            {"remediation_action": MSG_REMEDIATION_REQUIRED}, code="required"
        )
    _transition(complaint, Complaint.Status.CLOSED, Actor.staff(user), root_cause.label)
    complaint.root_cause = root_cause
    complaint.remediation_action = remediation_action.strip()
    complaint.remediation_owner = remediation_owner.strip()
    complaint.closed_at = timezone.now()
    complaint.save()
    return complaint


@transaction.atomic
def complaint_reopen(*, complaint: Complaint, reason: str, actor: Actor | str) -> Complaint:
    """The customer disputes the decision: back to investigating with a new clock."""
    if not reason.strip():
        raise ValidationError({"reason": MSG_REASON_REQUIRED}, code="required")
    _lock(complaint)
    _transition(complaint, Complaint.Status.INVESTIGATING, actor, reason.strip())
    complaint.clock_started_at = timezone.now()
    complaint.extension_step = 0
    complaint.paused_total = timedelta(0)
    complaint.closed_at = None
    _recompute_due(complaint)
    complaint.save()
    return complaint


@transaction.atomic
def complaint_rate(
    *, complaint: Complaint, customer: Customer, score: int, comment: str = ""
) -> Complaint:
    _lock(complaint)
    if complaint.customer_id != customer.pk:
        raise ApplicationError(MSG_NOT_CUSTOMERS, code="not_customers")
    if complaint.status not in (*Complaint.DECIDED_STATUSES, Complaint.Status.CLOSED):
        raise ApplicationError(MSG_RATING_NOT_DECIDED, code="not_decided")
    if complaint.rated_at is not None:
        raise ApplicationError(MSG_ALREADY_RATED, code="already_rated")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"score": MSG_RATING_RANGE}, code="invalid")
    complaint.satisfaction = score
    complaint.satisfaction_comment = comment.strip()
    complaint.rated_at = timezone.now()
    complaint.save(
        update_fields=["satisfaction", "satisfaction_comment", "rated_at", "updated_at"]
    )
    _timeline(complaint, ComplaintEvent.Kind.RATED, Actor.customer(customer), str(score))
    return complaint


# --- review ---------------------------------------------------------------------------


@transaction.atomic
def complaint_review_request(
    *, complaint: Complaint, reason: str, actor: Actor | str
) -> ComplaintReview:
    """Ask for a review of the decision, within the policy's window after it."""
    if not reason.strip():
        raise ValidationError({"reason": MSG_REASON_REQUIRED}, code="required")
    _lock(complaint)
    if complaint.decided_at is None or complaint.status not in (
        *Complaint.DECIDED_STATUSES, Complaint.Status.CLOSED,
    ):
        raise ApplicationError(MSG_REVIEW_NOT_DECIDED, code="not_decided")
    policy = get_policy(complaint.policy)
    now = timezone.now()
    if now > policy.review_window_ends(complaint.decided_at):
        raise ApplicationError(MSG_REVIEW_WINDOW, code="review_window")
    if complaint.reviews.filter(decided_at__isnull=True).exists():
        raise ApplicationError(MSG_REVIEW_OPEN, code="review_open")
    review = ComplaintReview.objects.create(
        complaint=complaint, reason=reason.strip(), requested_at=now,
        due_at=policy.review_due(now),
    )
    _timeline(
        complaint, ComplaintEvent.Kind.REVIEW, actor,
        gettext("Review requested, due %(due)s") % {"due": _when(review.due_at)},
    )
    return review


@transaction.atomic
def complaint_review_assign(*, review: ComplaintReview, reviewer, by) -> ComplaintReview:
    """A review goes to someone other than the first handler and anyone named in
    the complaint."""
    _require_supervisor(by)
    complaint = _lock(review.complaint)
    if review.decided_at is not None:
        raise ApplicationError(MSG_REVIEW_DECIDED, code="review_decided")
    if not _can_handle(reviewer):
        raise ApplicationError(MSG_NOT_HANDLER, code="not_handler")
    if reviewer.pk in (complaint.decided_by_id, complaint.assignee_id) or _recused(
        complaint, reviewer
    ):
        raise ApplicationError(MSG_RECUSED, code="recused")
    review.reviewer = reviewer
    review.save(update_fields=["reviewer"])
    _timeline(
        complaint, ComplaintEvent.Kind.REVIEW, Actor.staff(by),
        gettext("Review assigned to %(user)s") % {"user": reviewer.get_username()},
    )
    return review


@transaction.atomic
def complaint_review_decide(
    *, review: ComplaintReview, outcome: str, decision: str, user
) -> ComplaintReview:
    review = ComplaintReview.objects.select_for_update().get(pk=review.pk)
    if review.decided_at is not None:
        raise ApplicationError(MSG_REVIEW_DECIDED, code="review_decided")
    if review.reviewer_id != user.pk:
        raise ApplicationError(MSG_NOT_REVIEWER, code="not_reviewer")
    if not decision.strip():
        raise ValidationError({"decision": MSG_FINDINGS_REQUIRED}, code="required")
    outcome = ComplaintReview.Outcome(outcome)
    review.outcome = outcome
    review.decision = decision.strip()
    review.decided_at = timezone.now()
    review.save(update_fields=["outcome", "decision", "decided_at"])
    complaint = review.complaint
    _timeline(complaint, ComplaintEvent.Kind.REVIEW, Actor.staff(user), outcome.label)
    with translation.override(_language(complaint)):
        subject = gettext("Review of your complaint %(reference)s") % {
            "reference": complaint.reference
        }
        body = "\n\n".join(
            [
                gettext("Outcome of the review: %(outcome)s") % {"outcome": outcome.label},
                review.decision,
            ]
        )
    _message(
        complaint, kind=ComplaintMessage.Kind.REVIEW_DECISION,
        subject=subject, body=body, actor=Actor.staff(user),
    )
    return review


# --- major complaints and escalation ---------------------------------------------------


def _escalate(complaint: Complaint, kind: str, due_at: datetime, actor) -> Escalation | None:
    escalation, created = Escalation.objects.get_or_create(
        complaint=complaint, kind=kind, due_at=due_at
    )
    if not created:
        return None
    label = Escalation.Kind(kind).label
    escalation.notified = _notify_supervisors(
        gettext("Complaint %(reference)s: %(what)s")
        % {"reference": complaint.reference, "what": label},
        gettext("Complaint %(reference)s (%(category)s) is due %(due)s.")
        % {
            "reference": complaint.reference,
            "category": complaint.get_category_display(),
            "due": _when(complaint.due_at),
        },
    )
    escalation.save(update_fields=["notified"])
    complaint.escalated_at = escalation.created_at
    complaint.save(update_fields=["escalated_at"])
    _timeline(complaint, ComplaintEvent.Kind.ESCALATED, actor, label)
    return escalation


def _flag_major(complaints: list[Complaint], *, actor) -> None:
    for complaint in complaints:
        if complaint.is_major:
            continue
        complaint.is_major = True
        complaint.save(update_fields=["is_major"])
        _timeline(complaint, ComplaintEvent.Kind.MAJOR, actor)
        _escalate(complaint, Escalation.Kind.MAJOR, complaint.received_at, actor)


@transaction.atomic
def complaint_link_matter(*, complaints: list[Complaint], matter: Matter, user) -> Matter:
    """Group complaints about one matter; at the threshold of customers every
    complaint on it becomes major and supervisors are alerted at once."""
    matter = Matter.objects.select_for_update().get(pk=matter.pk)
    ids = [c.pk for c in complaints]
    Complaint.objects.filter(pk__in=ids).update(matter=matter)
    for complaint in Complaint.objects.filter(pk__in=ids):
        _timeline(complaint, ComplaintEvent.Kind.MATTER, Actor.staff(user), matter.title)
    on_matter = Complaint.objects.filter(matter=matter)
    customers = on_matter.exclude(customer__isnull=True).values("customer").distinct().count()
    extra = on_matter.aggregate(n=Sum("complainant_count"))["n"] or 0
    anonymous = on_matter.filter(customer__isnull=True).count()
    people = customers + (extra - on_matter.count()) + anonymous
    if people >= settings.COMPLAINT_MAJOR_THRESHOLD:
        if matter.major_since is None:
            matter.major_since = timezone.now()
            matter.save(update_fields=["major_since"])
        _flag_major(list(on_matter.filter(is_major=False)), actor=Actor.staff(user))
    return matter


@transaction.atomic
def complaint_escalations_run(*, now: datetime | None = None) -> list[Escalation]:
    """Flag open complaints due within 48 hours or overdue, once per deadline."""
    now = now or timezone.now()
    actor = Actor.system("escalation")
    created = []
    candidates = Complaint.objects.open().filter(
        paused_at__isnull=True, due_at__lt=now + timedelta(hours=48)
    )
    for complaint in candidates.select_related(None):
        kind = Escalation.Kind.OVERDUE if complaint.due_at < now else Escalation.Kind.DUE_SOON
        escalation = _escalate(complaint, kind, complaint.due_at, actor)
        if escalation is not None:
            created.append(escalation)
    return created
