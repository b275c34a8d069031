"""Major complaints and the escalation of deadlines to supervisors."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintReview,
    Escalation,
    Matter,
)
from complaints.services.base import _notify_supervisors, _timeline, _when
from consent.ledger import Actor

# --- major complaints and escalation ------------------------------------------------


def _escalate(
    complaint: Complaint, kind: str, due_at: datetime, actor
) -> Escalation | None:
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
            "due": _when(due_at),
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
def complaint_link_matter(
    *, complaints: list[Complaint], matter: Matter, user
) -> Matter:
    """Group complaints about one matter; at the threshold of customers every
    complaint on it becomes major and supervisors are alerted at once."""
    matter = Matter.objects.select_for_update().get(pk=matter.pk)
    ids = [c.pk for c in complaints]
    Complaint.objects.filter(pk__in=ids).update(matter=matter)
    for complaint in Complaint.objects.filter(pk__in=ids):
        _timeline(
            complaint, ComplaintEvent.Kind.MATTER, Actor.staff(user), matter.title
        )
    on_matter = Complaint.objects.filter(matter=matter)
    customers = (
        on_matter.exclude(customer__isnull=True).values("customer").distinct().count()
    )
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
    """Flag open complaints and reviews due within ``COMPLAINT_ALERT_DAYS_BEFORE``
    days (the T-n alert), due within ``COMPLAINT_DUE_SOON_HOURS`` or overdue, and
    complaints not acknowledged in time; once per deadline and kind."""
    now = now or timezone.now()
    actor = Actor.system("escalation")
    created = []
    soon = now + timedelta(hours=settings.COMPLAINT_DUE_SOON_HOURS)
    alert_days = settings.COMPLAINT_ALERT_DAYS_BEFORE
    days_ahead = now + timedelta(days=alert_days)
    horizon = max(soon, days_ahead)
    candidates = Complaint.objects.open().filter(
        paused_at__isnull=True, due_at__lt=horizon
    )
    found: list[tuple[Complaint, str, datetime]] = []
    for complaint in candidates:
        due = complaint.due_at
        if due < now:
            found.append((complaint, Escalation.Kind.OVERDUE, due))
            continue
        if due < soon:
            found.append((complaint, Escalation.Kind.DUE_SOON, due))
        elif alert_days and due < days_ahead:
            found.append((complaint, Escalation.Kind.DUE_IN_DAYS, due))
    unacknowledged = Complaint.objects.filter(
        status=Complaint.Status.RECEIVED, ack_due_at__lt=now
    )
    found += [(c, Escalation.Kind.ACK_OVERDUE, c.ack_due_at) for c in unacknowledged]
    reviews = ComplaintReview.objects.filter(
        decided_at__isnull=True, due_at__lt=horizon
    ).select_related("complaint")
    for review in reviews:
        if review.due_at < now:
            found.append(
                (review.complaint, Escalation.Kind.REVIEW_OVERDUE, review.due_at)
            )
        elif review.due_at < soon or (alert_days and review.due_at < days_ahead):
            found.append(
                (review.complaint, Escalation.Kind.REVIEW_DUE_SOON, review.due_at)
            )
    for complaint, kind, due_at in found:
        escalation = _escalate(complaint, kind, due_at, actor)
        if escalation is not None:
            created.append(escalation)
    return created
