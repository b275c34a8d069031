"""The review queue of replies read from plain language.

A reply such as "不需要", "leave me alone" or "wrong number" is applied at once
(withdrawal beats grant) and queued here. A person takes it (an owner), then
confirms the reading (it stays as applied) or undoes it: what the reply suppressed is
restored through the unit of work, each restored consent or contact point a ledger
row citing the review. Each review is due one business day after the reply arrived
(``hooks.review_due``); overdue ones are alerted by a periodic task.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import services
from consent.errors import ApplicationError
from consent.ledger import Actor, Evidence
from consent.models import (
    ConsentEvent,
    ConsentState,
    ContactPoint,
    InboundEvent,
    ReplyReview,
    SuppressedIdentifier,
)
from consent.unit import consent_change

MSG_REVIEW_CLOSED = _("This reply was already reviewed.")
MSG_NOTHING_TO_REVIEW = _("This event needs no review.")

Status = InboundEvent.ReviewStatus


def _lock_open(review: InboundEvent) -> InboundEvent:
    locked = InboundEvent.objects.select_for_update().get(pk=review.pk)
    if not locked.review_status:
        raise ApplicationError(MSG_NOTHING_TO_REVIEW, code="no_review")
    if locked.review_status != Status.PENDING:
        raise ApplicationError(MSG_REVIEW_CLOSED, code="review_closed")
    return locked


@transaction.atomic
def reply_review_assign(*, review: InboundEvent, owner) -> InboundEvent:
    """Give the review an owner (``None`` puts it back in the pool)."""
    review = _lock_open(review)
    review.review_owner = owner
    review.save(update_fields=["review_owner"])
    return review


def _close(review: InboundEvent, *, status: str, user) -> None:
    review.review_status = status
    review.reviewed_at = timezone.now()
    review.reviewed_by = user.get_username()
    if review.review_owner_id is None:
        review.review_owner = user
    review.save(
        update_fields=["review_status", "reviewed_at", "reviewed_by", "review_owner"]
    )


@transaction.atomic
def reply_review_confirm(*, review: InboundEvent, user) -> InboundEvent:
    """The reply was read right: what it did stays, the review is closed."""
    review = _lock_open(review)
    _close(review, status=Status.CONFIRMED, user=user)
    return review


def _reply_ledger_rows(review: InboundEvent, action: str):
    """The ledger rows this reply wrote (its sender's event id, its client)."""
    return ConsentEvent.objects.filter(
        action=action,
        actor=str(Actor.client(review.client.name)),
        evidence__event_id=review.event_id,
        evidence__inbound=review.type,
    ).select_related("customer", "contact_point")


def _refused_again(state: ConsentState) -> bool:
    """A later refusal covering the cell (a keyword STOP after the misread reply
    changed nothing, being already withdrawn, but still said no): keep it."""
    return (
        ConsentEvent.objects.filter(
            customer_id=state.customer_id,
            seq__gt=state.event.seq,
            action__in=(
                ConsentEvent.Action.WITHDRAW,
                ConsentEvent.Action.OPT_OUT_ALL,
            ),
        )
        .filter(Q(channel__isnull=True) | Q(channel_id=state.channel_id))
        .filter(Q(topic__isnull=True) | Q(topic_id=state.topic_id))
        .exists()
    )


def _replied_no_again(review: InboundEvent) -> bool:
    """A later stop or not-me reply from the same number on the same channel (a
    repeated STOP changes nothing and writes no ledger row, but is still a no)."""
    return (
        InboundEvent.objects.filter(
            blind_index=review.blind_index,
            channel_id=review.channel_id,
            effect__in=("stop", "not_me"),
            occurred_at__gte=review.occurred_at,
        )
        .exclude(pk=review.pk)
        .exclude(review_status=Status.UNDONE)
        .exists()
    )


def reply_review_undo(*, review: InboundEvent, user) -> int:
    """The reply was misread: restore what it suppressed and close the review.

    Consents it withdrew, and withdrawn by nothing since, are granted again citing
    the notice of the grant they had (source ``reply_review``: not a grant staff
    enter for the customer, which ``consent.staff_grants`` governs, but the
    customer's own earlier grant reinstated after the reading of their reply was
    found wrong) (a refusal said again since stays); contact
    points it marked "not me", and not
    changed since, are restored; a not-me kept against an unknown number is lifted.
    Returns how many things were restored."""
    actor = Actor.staff(user)
    evidence = Evidence(
        extra=(("reason", "reply_review_undo"), ("review_of", review.event_id))
    )
    restored = 0
    with consent_change(
        actor=actor, source=ConsentEvent.Source.REPLY_REVIEW, evidence=evidence
    ) as change:
        review = _lock_open(review)
        withdrawals = list(_reply_ledger_rows(review, ConsentEvent.Action.WITHDRAW))
        change.lock(*(w.customer_id for w in withdrawals))
        states = ConsentState.objects.filter(
            event_id__in=[w.pk for w in withdrawals],
            status=ConsentState.Status.WITHDRAWN,
        ).select_related("customer", "channel", "topic", "event")
        said_again = _replied_no_again(review)
        for state in states:
            original = services.grant_undone_by(state)
            if original is None or said_again or _refused_again(state):
                continue
            services.consent_grant(
                change=change,
                customer=state.customer,
                channel=state.channel,
                topic=state.topic,
                source=ConsentEvent.Source.REPLY_REVIEW,
                actor=actor,
                notice_version=original.notice_version,
                evidence=Evidence(
                    extra=(
                        *evidence.extra,
                        ("restores_grant", str(original.seq)),
                        ("undoes_withdrawal", str(state.event.seq)),
                    )
                ),
            )
            restored += 1
        for marked in _reply_ledger_rows(review, ConsentEvent.Action.CONTACT_NOT_ME):
            point = marked.contact_point
            if point is None or point.status != ContactPoint.Status.NOT_ME:
                continue
            latest = point.consent_events.order_by("-seq").first()
            if latest is not None and latest.pk != marked.pk:
                continue  # changed since: a person decides that, not an undo
            services.contact_point_restore(
                contact_point=point,
                source=ConsentEvent.Source.REPLY_REVIEW,
                actor=actor,
                evidence=evidence,
                change=change,
            )
            restored += 1
        if review.effect == "not_me" and (review.result or {}).get(
            "identifier_suppressed"
        ):
            kept = SuppressedIdentifier.objects.filter(
                blind_index=review.blind_index,
                reason=SuppressedIdentifier.Reason.NOT_ME,
                review_pending=True,
            )
            if kept.exists():
                kept.delete()
                change.touch_identifier(review.blind_index)
                restored += 1
        _close(review, status=Status.UNDONE, user=user)
    return restored


def reply_reviews_overdue(*, now: datetime | None = None):
    """Open reviews past their due time that nobody was alerted about yet."""
    now = now or timezone.now()
    return (
        ReplyReview.objects.overdue(now)
        .filter(review_alerted_at__isnull=True)
        .select_related("client", "channel", "review_owner")
        .order_by("review_due_at")
    )
