"""Review of a decision, by someone other than the first handler."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from complaints.deadlines import get_policy
from complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintReview,
)
from complaints.services.base import (
    MSG_FINDINGS_REQUIRED,
    MSG_NOT_REVIEWER,
    MSG_NOT_REVIEWER_ROLE,
    MSG_REASON_REQUIRED,
    MSG_RECUSED,
    MSG_REVIEW_DECIDED,
    MSG_REVIEW_NOT_DECIDED,
    MSG_REVIEW_OPEN,
    MSG_REVIEW_WINDOW,
    _can_review,
    _language,
    _lock,
    _message,
    _recused,
    _require_supervisor,
    _timeline,
    _when,
)
from consent.errors import ApplicationError
from consent.ledger import Actor

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
        *Complaint.DECIDED_STATUSES,
        Complaint.Status.CLOSED,
    ):
        raise ApplicationError(MSG_REVIEW_NOT_DECIDED, code="not_decided")
    policy = get_policy(complaint.policy)
    now = timezone.now()
    if now > policy.review_window_ends(complaint.decided_at):
        raise ApplicationError(MSG_REVIEW_WINDOW, code="review_window")
    if complaint.reviews.filter(decided_at__isnull=True).exists():
        raise ApplicationError(MSG_REVIEW_OPEN, code="review_open")
    review = ComplaintReview.objects.create(
        complaint=complaint,
        reason=reason.strip(),
        requested_at=now,
        due_at=policy.review_due(now),
    )
    _timeline(
        complaint,
        ComplaintEvent.Kind.REVIEW,
        actor,
        gettext("Review requested, due %(due)s") % {"due": _when(review.due_at)},
    )
    return review


@transaction.atomic
def complaint_review_assign(
    *, review: ComplaintReview, reviewer, by
) -> ComplaintReview:
    """A review goes up: to a complaint reviewer or a supervisor, never the first
    handler or decider, anyone named in the complaint or a member of a business unit
    named in it."""
    _require_supervisor(by)
    complaint = _lock(review.complaint)
    if review.decided_at is not None:
        raise ApplicationError(MSG_REVIEW_DECIDED, code="review_decided")
    if reviewer.pk in (complaint.decided_by_id, complaint.assignee_id) or _recused(
        complaint, reviewer
    ):
        raise ApplicationError(MSG_RECUSED, code="recused")
    if not _can_review(reviewer):
        raise ApplicationError(MSG_NOT_REVIEWER_ROLE, code="not_reviewer_role")
    review.reviewer = reviewer
    review.save(update_fields=["reviewer"])
    _timeline(
        complaint,
        ComplaintEvent.Kind.REVIEW,
        Actor.staff(by),
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
    if not _can_review(user):
        # The role may have been taken away since the review was assigned.
        raise ApplicationError(MSG_NOT_REVIEWER_ROLE, code="not_reviewer_role")
    complaint = review.complaint
    if user.pk in (complaint.decided_by_id, complaint.assignee_id) or _recused(
        complaint, user
    ):
        raise ApplicationError(MSG_RECUSED, code="recused")
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
                gettext("Outcome of the review: %(outcome)s")
                % {"outcome": outcome.label},
                review.decision,
            ]
        )
    _message(
        complaint,
        kind=ComplaintMessage.Kind.REVIEW_DECISION,
        subject=subject,
        body=body,
        actor=Actor.staff(user),
    )
    return review
