"""Acknowledgement, assignment, replies, notes, decision, closure, reopening and
the customer's rating."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from complaints.deadlines import get_policy
from complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintNote,
    RootCause,
)
from complaints.services.base import (
    MSG_ALREADY_RATED,
    MSG_ASSIGN_OTHERS,
    MSG_DATE_IN_FUTURE,
    MSG_FINDINGS_REQUIRED,
    MSG_NO_REMEDIATION,
    MSG_NOT_CUSTOMERS,
    MSG_NOT_HANDLER,
    MSG_RATING_NOT_DECIDED,
    MSG_RATING_RANGE,
    MSG_REASON_REQUIRED,
    MSG_RECUSED,
    MSG_REMEDIATION_DONE,
    MSG_REMEDIATION_REQUIRED,
    MSG_ROOT_CAUSE_REQUIRED,
    _can_handle,
    _language,
    _lock,
    _message,
    _recompute_due,
    _recused,
    _timeline,
    _transition,
    _when,
    is_supervisor,
)
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import Customer

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
        if complaint.deadline_provisional:
            body += " " + gettext(
                "The official holiday calendar for that period is not published "
                "yet, so we give you the earliest date it can be; we will not "
                "take longer."
            )
    _message(
        complaint,
        kind=ComplaintMessage.Kind.ACKNOWLEDGEMENT,
        subject=subject,
        body=body,
        actor=actor,
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
        _timeline(
            complaint,
            ComplaintEvent.Kind.ASSIGNED,
            Actor.staff(user),
            user.get_username(),
        )
    complaint.save(update_fields=["status", "assignee", "updated_at"])
    return complaint


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
    _timeline(
        complaint,
        ComplaintEvent.Kind.ASSIGNED,
        Actor.staff(by),
        assignee.get_username(),
    )
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
    subject, body = reply_letter(complaint=complaint, text=text)
    return _message(
        complaint,
        kind=ComplaintMessage.Kind.REPLY,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )


def reply_letter(*, complaint: Complaint, text: str) -> tuple[str, str]:
    """Subject and body of a reply, as the customer will receive it."""
    with translation.override(_language(complaint)):
        subject = gettext("Your complaint %(reference)s") % {
            "reference": complaint.reference
        }
    return subject, text.strip()


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


# --- decision, closure, reopening, rating ---------------------------------------------


def _remedies_text(policy_code: str) -> str:
    """The routes open after a decision, as the policy's regulator requires them."""
    days = get_policy(policy_code).review_window_days
    review = gettext(
        "If you disagree with this decision you may ask us to review it within "
        "%(days)d days, in the self-service portal or by contacting us."
    ) % {"days": days}
    if policy_code == "uk":
        # FCA DISP 1.6.2R: the referral right, free of charge, within six months.
        route = gettext(
            "If you remain dissatisfied, you have the right to refer your complaint "
            "to the Financial Ombudsman Service, free of charge, but you must do so "
            "within six months of the date of this letter. Financial Ombudsman "
            "Service, Exchange Tower, London E14 9SR; 0800 023 4567; "
            "www.financial-ombudsman.org.uk. If you do not refer your complaint in "
            "time, the Ombudsman will not have our permission to consider it."
        )
    elif policy_code == "us":
        route = gettext(
            "You can also submit a complaint to the Consumer Financial Protection "
            "Bureau (CFPB) at www.consumerfinance.gov/complaint or by calling "
            "(855) 411-2372."
        )
    else:
        route = gettext(
            "You may also complain to the banking regulator, the National Financial "
            "Regulatory Administration, through its consumer complaint hotline "
            "12378; ask for mediation by a financial dispute mediation body; apply "
            "for arbitration; or go to court."
        )
    return f"{review}\n\n{route}"


def decision_letter(
    *, complaint: Complaint, outcome: str, findings: str, reasons: str
) -> tuple[str, str]:
    """Subject and body of the decision letter in the customer's language, with the
    routes open under the complaint's policy. Used for the preview and the send."""
    outcome = Complaint.Outcome(outcome)
    with translation.override(_language(complaint)):
        subject = gettext("Decision on your complaint %(reference)s") % {
            "reference": complaint.reference
        }
        body = "\n\n".join(
            [
                gettext("Outcome: %(outcome)s") % {"outcome": outcome.label},
                gettext("What we found: %(findings)s") % {"findings": findings.strip()},
                gettext("Our reasons: %(reasons)s") % {"reasons": reasons.strip()},
                _remedies_text(complaint.policy),
            ]
        )
    return subject, body


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
    subject, body = decision_letter(
        complaint=complaint,
        outcome=outcome,
        findings=complaint.findings,
        reasons=complaint.reasons,
    )
    _message(
        complaint,
        kind=ComplaintMessage.Kind.DECISION,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )
    return complaint


@transaction.atomic
def complaint_close(
    *,
    complaint: Complaint,
    root_cause: str,
    remediation_action: str = "",
    remediation_owner: str = "",
    remediation_due_on: date | None = None,
    user,
) -> Complaint:
    """Close a decided complaint. The root cause is required; so are a remediation
    action, its owner and its due date unless no fault was found."""
    _lock(complaint)
    if not root_cause:
        raise ValidationError({"root_cause": MSG_ROOT_CAUSE_REQUIRED}, code="required")
    root_cause = RootCause(root_cause)
    if root_cause != RootCause.NO_FAULT and not (
        remediation_action.strip() and remediation_owner.strip() and remediation_due_on
    ):
        raise ValidationError(
            {"remediation_action": MSG_REMEDIATION_REQUIRED}, code="required"
        )
    _transition(complaint, Complaint.Status.CLOSED, Actor.staff(user), root_cause.label)
    complaint.root_cause = root_cause
    complaint.remediation_action = remediation_action.strip()
    complaint.remediation_owner = remediation_owner.strip()
    complaint.remediation_due_on = (
        remediation_due_on if root_cause != RootCause.NO_FAULT else None
    )
    complaint.closed_at = timezone.now()
    complaint.save()
    return complaint


@transaction.atomic
def complaint_remediation_done(
    *, complaint: Complaint, done_on: date | None = None, note: str = "", user
) -> Complaint:
    """Record that the remediation of a closed complaint's root cause is done."""
    _lock(complaint)
    if not complaint.remediation_action:
        raise ApplicationError(MSG_NO_REMEDIATION, code="no_remediation")
    if complaint.remediation_done_on is not None:
        raise ApplicationError(MSG_REMEDIATION_DONE, code="remediation_done")
    done_on = done_on or timezone.localdate()
    if done_on > timezone.localdate():
        raise ValidationError({"done_on": MSG_DATE_IN_FUTURE}, code="future")
    complaint.remediation_done_on = done_on
    complaint.save(update_fields=["remediation_done_on", "updated_at"])
    _timeline(
        complaint,
        ComplaintEvent.Kind.REMEDIATION,
        Actor.staff(user),
        gettext("Remediation done on %(day)s. %(note)s")
        % {"day": done_on.isoformat(), "note": note.strip()},
    )
    return complaint


@transaction.atomic
def complaint_reopen(
    *, complaint: Complaint, reason: str, actor: Actor | str
) -> Complaint:
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
    _timeline(
        complaint, ComplaintEvent.Kind.RATED, Actor.customer(customer), str(score)
    )
    return complaint
