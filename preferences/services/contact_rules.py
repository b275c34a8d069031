"""Quiet hours, frequency caps, personalisation and care pauses.

Each change is a unit of work: the preference rows, a ledger row carrying the new
values (so a refusal of personalised marketing can be proven, PIPL art. 24) and the
republished keys commit together. ``preferences.replay`` rebuilds these tables from
the ledger alone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from consent.ledger import Actor, Evidence
from consent.models import Channel, ConsentEvent, Customer
from consent.unit import ConsentChange, consent_change, joined
from preferences.models import CarePause, FrequencyCap, Preference
from preferences.services._common import MSG_PAUSE_END

Action = ConsentEvent.Action


def _who(customer: Customer, actor, source) -> tuple[Actor | str, str]:
    """By default the customer's own act in the portal."""
    return actor or Actor.customer(customer), source or ConsentEvent.Source.PORTAL


def _preference(customer: Customer) -> Preference:
    pref, _created = Preference.objects.get_or_create(customer=customer)
    return pref


def preference_update(
    *,
    customer: Customer,
    quiet_start: time,
    quiet_end: time,
    time_zone: str,
    preferred_channel: Channel | None,
    preferred_language: str,
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> Preference:
    """Quiet hours, preferred channel and language."""
    actor, source = _who(customer, actor, source)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        pref = _preference(customer)
        pref.quiet_start = quiet_start
        pref.quiet_end = quiet_end
        pref.time_zone = time_zone
        pref.preferred_channel = preferred_channel
        pref.full_clean()
        pref.save()
        if customer.preferred_language != preferred_language:
            customer.preferred_language = preferred_language
            customer.full_clean(validate_unique=False)
            customer.save(update_fields=["preferred_language"])
        change.record(
            customer=customer,
            action=Action.PREFERENCES_SET,
            source=source,
            actor=actor,
            evidence=evidence,
            detail={
                **pref.quiet_hours(),
                "preferred_channel": (
                    preferred_channel.code if preferred_channel else None
                ),
                "language": preferred_language,
            },
        )
    return pref


def frequency_caps_set(
    *,
    customer: Customer,
    caps: dict[Channel, int | None],
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> list[FrequencyCap]:
    """Set the per-channel limit (messages per rolling 7 days); None removes it."""
    actor, source = _who(customer, actor, source)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        kept = []
        for channel, limit in caps.items():
            if limit is None:
                FrequencyCap.objects.filter(customer=customer, channel=channel).delete()
                continue
            cap = FrequencyCap.objects.filter(
                customer=customer, channel=channel
            ).first() or FrequencyCap(customer=customer, channel=channel)
            cap.max_per_week = limit
            cap.full_clean()
            cap.save()
            kept.append(cap)
        change.record(
            customer=customer,
            action=Action.FREQUENCY_CAPS_SET,
            source=source,
            actor=actor,
            evidence=evidence,
            detail={"caps": {ch.code: limit for ch, limit in caps.items()}},
        )
    return kept


def personalisation_set(
    *,
    customer: Customer,
    allowed: bool,
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> Preference:
    """PIPL art. 24: published to sending systems as ``personalisation: false``."""
    actor, source = _who(customer, actor, source)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        pref = _preference(customer)
        pref.personalisation_allowed = allowed
        pref.save()
        change.record(
            customer=customer,
            action=Action.PERSONALISATION_SET,
            source=source,
            actor=actor,
            evidence=evidence,
            detail={"allowed": allowed},
        )
    return pref


def care_pause_start(
    *,
    customer: Customer,
    ends_at: datetime,
    scope: str,
    reason: str,
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
) -> CarePause:
    """Pause marketing (and optionally collections) until a date. A new pause replaces
    the running one. Only a reason category is kept."""
    actor, source = _who(customer, actor, source)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        now = change.now
        if ends_at <= now or ends_at > now + timedelta(days=366):
            raise ValidationError({"until": MSG_PAUSE_END}, code="pause_end")
        change.lock(customer)
        CarePause.objects.active_at(now).filter(customer=customer).update(
            cancelled_at=now
        )
        pause = CarePause(
            customer=customer,
            starts_at=now,
            ends_at=ends_at,
            scope=scope,
            reason=reason,
        )
        pause.full_clean()
        pause.save()
        change.record(
            customer=customer,
            action=Action.CARE_PAUSE_START,
            source=source,
            actor=actor,
            evidence=evidence,
            detail={
                "starts_at": now.isoformat(),
                "ends_at": ends_at.isoformat(),
                "scope": scope,
                "reason": reason,
            },
        )
    return pause


def care_pause_cancel(
    *,
    customer: Customer,
    actor: Actor | str | None = None,
    source: str | None = None,
    evidence: Evidence | None = None,
    change: ConsentChange | None = None,
    why: str = "cancelled",
) -> int:
    """End the running pause now (``why`` is kept in the ledger row)."""
    actor, source = _who(customer, actor, source)
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        now = change.now
        count = (
            CarePause.objects.active_at(now)
            .filter(customer=customer)
            .update(cancelled_at=now, expiry_processed_at=now)
        )
        if count:
            change.record(
                customer=customer,
                action=Action.CARE_PAUSE_END,
                source=source,
                actor=actor,
                evidence=evidence,
                detail={"ended_at": now.isoformat(), "why": why},
            )
    return count


def care_pause_expire_due(*, now: datetime | None = None) -> int:
    """Publish the end of every pause that ran out (the periodic task). Each customer
    is its own unit of work so one failure does not hold back the rest."""
    now = now or timezone.now()
    due = sorted(
        set(
            CarePause.objects.filter(
                ends_at__lte=now,
                expiry_processed_at__isnull=True,
                cancelled_at__isnull=True,
            ).values_list("customer_id", flat=True)
        )
    )
    for customer_id in due:
        with consent_change(
            actor=Actor.system("care_pause_expiry"),
            source=ConsentEvent.Source.SYSTEM,
            now=now,
        ) as change:
            change.lock(customer_id)
            CarePause.objects.filter(
                customer_id=customer_id,
                ends_at__lte=now,
                expiry_processed_at__isnull=True,
                cancelled_at__isnull=True,
            ).update(expiry_processed_at=now)
            change.touch_customer(customer_id)
    return len(due)
