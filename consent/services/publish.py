"""Republishing keys whose inputs changed outside a consent service."""

from __future__ import annotations

from collections.abc import Iterable

from consent.ledger import Actor
from consent.models import ConsentEvent, SuppressionChange
from consent.unit import consent_change


def contactability_publish(
    *,
    customer_ids: Iterable[int] = (),
    blind_indexes: Iterable[str] = (),
    actor: Actor | str | None = None,
    now=None,
) -> list[SuppressionChange]:
    """Recompute these customers' and identifiers' keys in their own unit of work
    (a care pause that ran out, a catalogue edit, a repair) and return the feed
    rows written."""
    with consent_change(
        actor=actor or Actor.system("publish"),
        source=ConsentEvent.Source.SYSTEM,
        now=now,
    ) as change:
        for customer_id in customer_ids:
            change.touch_customer(customer_id)
        for blind_index in blind_indexes:
            change.touch_identifier(blind_index)
    return change.feed
