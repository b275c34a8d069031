"""The deadline clock: extensions, pauses for appraisal or mediation, new facts."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from complaints.deadlines import get_policy
from complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintExtension,
    ComplaintMessage,
)
from complaints.services.base import (
    MSG_ALREADY_PAUSED,
    MSG_DESCRIPTION_REQUIRED,
    MSG_EXTENSION_NOT_PENDING,
    MSG_EXTENSION_PENDING,
    MSG_NO_EXTENSION,
    MSG_NOT_PAUSED,
    MSG_PAUSE_REASON,
    MSG_REASON_REQUIRED,
    PAUSE_REASONS,
    _language,
    _lock,
    _message,
    _recompute_due,
    _require_open,
    _require_supervisor,
    _timeline,
    _when,
    is_supervisor,
)
from consent.errors import ApplicationError
from consent.ledger import Actor

# --- deadlines: extension, pause, new facts -------------------------------------------


def _apply_extension(
    complaint: Complaint, extension: ComplaintExtension, actor
) -> None:
    complaint.extension_step = extension.step
    complaint.extension_reason = extension.reason
    _recompute_due(complaint)
    complaint.save(
        update_fields=[
            "extension_step",
            "extension_reason",
            "due_at",
            "deadline_provisional",
            "updated_at",
        ]
    )
    _timeline(
        complaint,
        ComplaintEvent.Kind.EXTENDED,
        actor,
        gettext("Step %(step)d, due %(due)s: %(reason)s")
        % {
            "step": extension.step,
            "due": _when(complaint.due_at),
            "reason": extension.reason,
        },
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
        complaint,
        kind=ComplaintMessage.Kind.EXTENSION,
        subject=subject,
        body=body,
        actor=actor,
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
        status=ComplaintExtension.Status.APPROVED
        if approved
        else (ComplaintExtension.Status.PENDING),
        requested_by=user,
        requested_at=now,
        approved_by=user if approved else None,
        approved_at=now if approved else None,
    )
    if approved:
        _apply_extension(complaint, extension, Actor.staff(user))
    else:
        _timeline(
            complaint,
            ComplaintEvent.Kind.EXTENSION_REQUESTED,
            Actor.staff(user),
            extension.reason,
        )
    return extension


@transaction.atomic
def complaint_extension_approve(
    *, extension: ComplaintExtension, user
) -> ComplaintExtension:
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
        complaint,
        kind=ComplaintMessage.Kind.PAUSE,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
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
        update_fields=[
            "paused_total",
            "paused_at",
            "pause_reason",
            "due_at",
            "deadline_provisional",
            "updated_at",
        ]
    )
    _timeline(
        complaint,
        ComplaintEvent.Kind.RESUMED,
        Actor.staff(user),
        gettext("Due %(due)s") % {"due": _when(complaint.due_at)},
    )
    return complaint


@transaction.atomic
def complaint_new_facts(
    *, complaint: Complaint, text: str, actor: Actor | str
) -> Complaint:
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
            "clock_started_at",
            "paused_total",
            "paused_at",
            "pause_reason",
            "due_at",
            "deadline_provisional",
            "updated_at",
        ]
    )
    _timeline(complaint, ComplaintEvent.Kind.NEW_FACTS, actor, text.strip())
    return complaint


@transaction.atomic
def complaint_deadlines_refresh(*, actor: Actor | str) -> int:
    """Recompute provisional deadlines after a calendar was completed; each moved
    deadline is recorded on its complaint's timeline. Returns how many moved."""
    moved = 0
    policies: dict = {}
    for complaint in Complaint.objects.open().filter(deadline_provisional=True):
        _lock(complaint)
        if complaint.policy not in policies:
            policies[complaint.policy] = get_policy(complaint.policy)
        before = complaint.due_at
        _recompute_due(complaint, policies[complaint.policy])
        complaint.save(update_fields=["due_at", "deadline_provisional", "updated_at"])
        if complaint.due_at != before:
            moved += 1
            _timeline(
                complaint,
                ComplaintEvent.Kind.DEADLINE,
                actor,
                gettext("Deadline recalculated with the holiday calendar: due %(due)s")
                % {"due": _when(complaint.due_at)},
            )
    return moved
