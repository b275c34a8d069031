"""Contact points (addresses) and identifiers kept suppressed by their hash alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from consent import crypto, hooks
from consent.errors import ApplicationError
from consent.identifiers import normalise
from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ContactPoint,
    Customer,
    SuppressedIdentifier,
)
from consent.services._common import (
    MSG_CONTACT_EXISTS,
    MSG_CONTACT_REMOVED,
    require_evidence,
)
from consent.unit import ConsentChange, joined


def contact_point_add(
    *,
    customer: Customer,
    kind: str,
    address: str,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    verified: bool = False,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """Add an address (normalised, encrypted, indexed). Raises ValidationError on a
    badly formed address, with nothing written. Until it is verified the address is
    nobody's: it makes nothing contactable (double opt-in). An unverified address
    that staff or an import added gets a confirmation request after commit."""
    require_evidence(source=source, actor=actor)
    normalised = normalise(kind, address)
    blind_index = ContactPoint.index_for(kind, normalised)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        contact_point = ContactPoint.objects.filter(
            customer=customer, blind_index=blind_index
        ).first()
        if contact_point is not None and contact_point.removed_at is None:
            raise ValidationError(
                {"address": MSG_CONTACT_EXISTS}, code="contact_exists"
            )
        if contact_point is None:
            contact_point = ContactPoint(
                customer=customer, kind=kind, blind_index=blind_index
            )
        # Added again after a removal: the address starts over (its time to be
        # confirmed, and links sent before, count from now).
        contact_point.created_at = change.now
        contact_point.address_encrypted = crypto.encrypt(normalised)
        contact_point.removed_at = None
        contact_point.status = ContactPoint.Status.ACTIVE
        contact_point.verified_at = change.now if verified else None
        contact_point.full_clean()
        contact_point.save()
        change.record(
            customer=customer,
            contact_point=contact_point,
            action=ConsentEvent.Action.CONTACT_ADDED,
            source=source,
            actor=actor,
            evidence=evidence,
        )
        change.touch_identifier(blind_index)
        if not verified and source != ConsentEvent.Source.PORTAL:
            # Staff or an import typed it: its holder is asked to confirm it (the
            # portal asks in its own flow, with the customer watching).
            pk = contact_point.pk
            transaction.on_commit(lambda: hooks.contact_point_unconfirmed(pk))
    return contact_point


def _contact_change(
    *,
    contact_point: ContactPoint,
    action: str,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None,
    change: ConsentChange | None,
    **fields,
) -> ContactPoint:
    require_evidence(source=source, actor=actor)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(contact_point.customer_id)
        contact_point.refresh_from_db()
        if (
            contact_point.removed_at is not None
            and action != ConsentEvent.Action.CONTACT_REMOVED
        ):
            raise ApplicationError(MSG_CONTACT_REMOVED, code="contact_removed")
        for name, value in fields.items():
            setattr(contact_point, name, value(change) if callable(value) else value)
        contact_point.save(update_fields=list(fields))
        change.record(
            customer=contact_point.customer,
            contact_point=contact_point,
            action=action,
            source=source,
            actor=actor,
            evidence=evidence,
        )
        change.touch_identifier(contact_point.blind_index)
    return contact_point


def contact_point_verify(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """Record that the holder proved possession of the address (a code was entered)."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_VERIFIED,
        source=source,
        actor=actor,
        evidence=evidence,
        change=change,
        verified_at=lambda change: change.now,
    )


def contact_point_remove(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """Take an address off the customer's record; its keys lose this holder."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_REMOVED,
        source=source,
        actor=actor,
        evidence=evidence,
        change=change,
        removed_at=lambda change: change.now,
    )


def contact_point_mark_not_me(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """The person holding the address says it is not the customer's: suppress
    everything to it, for every customer sharing it."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_NOT_ME,
        source=source,
        actor=actor,
        evidence=evidence,
        change=change,
        status=ContactPoint.Status.NOT_ME,
    )


def contact_point_mark_invalid(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """The address does not work (hard bounce, dead number): suppress everything."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_INVALID,
        source=source,
        actor=actor,
        evidence=evidence,
        change=change,
        status=ContactPoint.Status.INVALID,
    )


def contact_point_restore(
    *,
    contact_point: ContactPoint,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> ContactPoint:
    """Clear a not-me or invalid flag (staff, after review)."""
    return _contact_change(
        contact_point=contact_point,
        action=ConsentEvent.Action.CONTACT_RESTORED,
        source=source,
        actor=actor,
        evidence=evidence,
        change=change,
        status=ContactPoint.Status.ACTIVE,
    )


def contact_points_unverified_expire(*, now=None) -> int:
    """Remove addresses nobody confirmed within ``UNVERIFIED_CONTACT_DAYS``: an
    address someone typed and never proved must not linger on a record."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.UNVERIFIED_CONTACT_DAYS)
    stale = ContactPoint.objects.filter(
        verified_at__isnull=True, removed_at__isnull=True, created_at__lt=cutoff
    ).select_related("customer")
    count = 0
    for contact_point in stale.iterator(chunk_size=500):
        contact_point_remove(
            contact_point=contact_point,
            source=ConsentEvent.Source.SYSTEM,
            actor=Actor.system("unverified_expiry"),
            evidence=Evidence(extra=(("reason", "unverified_expired"),)),
        )
        count += 1
    return count


def identifier_suppress(
    *,
    kind: str,
    address: str,
    reason: str,
    review_pending: bool = False,
    channel: Channel | None = None,
    change: ConsentChange | None = None,
) -> SuppressedIdentifier:
    """Keep an identifier suppressed by its keyed hash alone (no clear value).

    ``channel``: the refusal holds for that channel only (a STOP reply); none means
    every channel of the identifier's kind. Recording it again moves its time to
    now: a holder's grant lifts a marketing-only refusal only when made after it.
    """
    normalised = normalise(kind, address)
    blind_index = ContactPoint.index_for(kind, normalised)
    actor = Actor.system("identifier_suppress")
    with joined(change, actor=actor, source=ConsentEvent.Source.SYSTEM) as change:
        record, created = SuppressedIdentifier.objects.get_or_create(
            blind_index=blind_index,
            reason=reason,
            channel=channel,
            defaults={
                "kind": kind,
                "review_pending": review_pending,
                "created_at": change.now,
            },
        )
        if not created and reason in SuppressedIdentifier.MARKETING_ONLY:
            record.created_at = change.now
            record.save(update_fields=["created_at"])
        change.touch_identifier(blind_index, known=normalised)
    return record


@dataclass
class NotMeResult:
    marked: list[ContactPoint]  # contact points marked not-me now
    linked: int  # live contact points carrying the address
    report: Any = None  # the correction task a handler opened, if any


def identifier_mark_not_me(
    *,
    kind: str,
    address: str,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
    via: str = "portal",
) -> NotMeResult:
    """The holder of an address says it is not the addressee's (the portal's "this
    is not me" page after a code, or a reply from the number itself).

    Every live contact point carrying it is marked ``not_me`` (everything to it
    stops, for every customer linked to it); an address nobody on file holds is
    kept suppressed by its hash for staff review. The correction task (a not-me
    report for staff) opens through ``hooks.not_me_report_handlers``."""
    from consent import hooks

    normalised = normalise(kind, address)
    blind_index = ContactPoint.index_for(kind, normalised)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        points = list(
            ContactPoint.objects.filter(
                blind_index=blind_index, removed_at__isnull=True
            ).order_by("customer_id")
        )
        change.lock(*(cp.customer_id for cp in points))
        marked = []
        for contact_point in points:
            if contact_point.status == ContactPoint.Status.NOT_ME:
                continue
            marked.append(
                contact_point_mark_not_me(
                    contact_point=contact_point,
                    source=source,
                    actor=actor,
                    evidence=evidence,
                    change=change,
                )
            )
        if not points:
            identifier_suppress(
                kind=kind,
                address=normalised,
                reason=SuppressedIdentifier.Reason.NOT_ME,
                review_pending=True,
                change=change,
            )
        report = None
        for opener in hooks.registry.not_me_report_handlers:
            report = opener(
                kind=kind,
                normalised=normalised,
                blind_index=blind_index,
                contact_points=len(points),
                via=via,
            )
    return NotMeResult(marked=marked, linked=len(points), report=report)
