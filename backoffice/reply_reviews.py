"""Alerts for replies whose review is overdue (one business day after arrival).

A misread reply may have stopped wanted messages or left a wrong number half
handled; each overdue review alerts its owner and every compliance officer once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from backoffice.audit import compliance_officers, staff_notify
from consent.models import InboundEvent
from consent.reviews import reply_reviews_overdue


def _recipients(review: InboundEvent) -> list:
    """Its owner first, then every compliance officer (each once)."""
    people = list(compliance_officers())
    if review.review_owner is not None and review.review_owner not in people:
        people.insert(0, review.review_owner)
    return people


@transaction.atomic
def reply_reviews_overdue_alert(*, now: datetime | None = None) -> list[InboundEvent]:
    """Alert once per overdue review; the rows are marked in the same transaction,
    so two runs of the check cannot both alert."""
    now = now or timezone.now()
    overdue = list(reply_reviews_overdue(now=now).select_for_update(of=("self",)))
    if not overdue:
        return []
    InboundEvent.objects.filter(pk__in=[r.pk for r in overdue]).update(
        review_alerted_at=now
    )
    for review in overdue:
        subject = gettext("A reply to review is overdue: %(event)s") % {
            "event": review.event_id
        }
        body = gettext(
            "The %(type)s %(event)s from %(client)s was applied as %(effect)s and "
            "was due for review at %(due)s. Confirm or undo it under Consent > "
            "Replies to review."
        ) % {
            "type": review.get_type_display(),
            "event": review.event_id,
            "client": review.client.name,
            "effect": review.effect,
            "due": timezone.localtime(review.review_due_at).strftime("%Y-%m-%d %H:%M"),
        }
        staff_notify(
            _recipients(review),
            subject=subject,
            body=body,
            purpose="reply_review_overdue",
        )
    return overdue
