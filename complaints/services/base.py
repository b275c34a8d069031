"""Shared pieces of the complaint services: messages, the timeline, the status
machine, sending to the customer and alerting supervisors."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backoffice.roles import (
    COMPLAINT_HANDLER,
    COMPLAINT_REVIEWER,
    SUPERVISOR,
    user_has_role,
)
from complaints.deadlines import get_policy
from complaints.models import Complaint, ComplaintEvent, ComplaintMessage
from consent.errors import ApplicationError
from consent.identifiers import mask
from consent.ledger import Actor
from consent.models import ContactPoint
from consent.task_names import task

MSG_DESCRIPTION_REQUIRED = _("Please describe what happened.")
MSG_ILLEGAL_TRANSITION = _("A complaint cannot go from %(from)s to %(to)s.")
MSG_NOT_SUPERVISOR = _("Only a supervisor can do this.")
MSG_NOT_HANDLER = _(
    "Complaints can only be assigned to complaint handlers or supervisors."
)
MSG_RECUSED = _(
    "This person is named in the complaint, belongs to a business unit named in "
    "it, or handled or decided it first."
)
MSG_NOT_REVIEWER_ROLE = _(
    "A review is decided by a complaint reviewer or a supervisor, not by a handler."
)
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
MSG_REMEDIATION_REQUIRED = _(
    "Record the remediation action, its owner and its due date before closing."
)
MSG_NO_REMEDIATION = _("This complaint has no remediation to complete.")
MSG_REMEDIATION_DONE = _("The remediation is already recorded as done.")
MSG_DATE_IN_FUTURE = _("This date is in the future.")
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
    Complaint.Status.INVESTIGATING: (
        Complaint.Status.RESOLVED,
        Complaint.Status.REJECTED,
    ),
    Complaint.Status.RESOLVED: (
        Complaint.Status.CLOSED,
        Complaint.Status.INVESTIGATING,
    ),
    Complaint.Status.REJECTED: (
        Complaint.Status.CLOSED,
        Complaint.Status.INVESTIGATING,
    ),
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


def _transition(
    complaint: Complaint, to: str, actor: Actor | str, detail: str = ""
) -> None:
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
        complaint,
        ComplaintEvent.Kind.STATUS,
        actor,
        detail,
        from_status=current,
        to_status=to,
    )


def _recompute_due(complaint: Complaint, policy=None) -> None:
    policy = policy or get_policy(complaint.policy)
    complaint.due_at = policy.due(
        complaint.clock_started_at,
        extension_step=complaint.extension_step,
        paused=complaint.paused_total,
    )
    complaint.deadline_provisional = policy.is_provisional(
        complaint.due_at
    ) or policy.is_provisional(complaint.first_response_due_at)


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
        complaint,
        ComplaintEvent.Kind.MESSAGE,
        actor,
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
        from consent.tasks import send_message_task

        (
            send_message_task.si(
                to=to,
                kind=address_kind,
                subject=subject,
                body=body,
                purpose=f"complaint_{kind}",
            )
            | task_signature("complaint_message_sent_task", message_id)
        ).delay()

    transaction.on_commit(send)
    return message


def _mark_sent(message: ComplaintMessage, when: datetime) -> None:
    message.sent_at = when
    message.save(update_fields=["sent_at"])
    if message.kind == ComplaintMessage.Kind.DECISION:
        Complaint.objects.filter(
            pk=message.complaint_id, decision_sent_at__isnull=True
        ).update(decision_sent_at=when)


@transaction.atomic
def complaint_message_mark_sent(
    *, message_id: int, sent_at: datetime | None = None
) -> None:
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
                to=address,
                kind="staff",
                subject=subject,
                body=body,
                purpose="complaint_escalation",
            )

    if addresses:
        transaction.on_commit(send)
    return len(addresses)


def _can_handle(user) -> bool:
    return (
        bool(user.is_superuser)
        or user_has_role(user, COMPLAINT_HANDLER)
        or (user_has_role(user, SUPERVISOR))
    )


def _can_review(user) -> bool:
    return (
        bool(user.is_superuser)
        or user_has_role(user, COMPLAINT_REVIEWER)
        or user_has_role(user, SUPERVISOR)
    )


def _recused(complaint: Complaint, user) -> bool:
    """Named in the complaint, or a member of a business unit named in it."""
    if complaint.named_staff.filter(pk=user.pk).exists():
        return True
    return complaint.named_units.filter(members=user).exists()


def _require_open(complaint: Complaint) -> None:
    if not complaint.is_open:
        raise ApplicationError(MSG_NOT_OPEN, code="not_open")


def task_signature(name: str, *args):
    """A task of ``complaints.tasks`` by name (see ``consent.task_names``)."""
    return task(f"complaints.tasks.{name}", *args)
