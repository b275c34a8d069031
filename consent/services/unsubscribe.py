"""Unsubscribing at a scope: the one rule behind the e-mail one-click page and the
``email_unsubscribe`` event a sending system pushes.

``product``: this product on this channel, the list the message came from (the
default, and what an RFC 8058 single-click POST means); ``channel``: all marketing on
the channel; ``all``: all marketing on every channel ("stop all marketing").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from consent.ledger import Actor, Evidence
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    OptOut,
    Topic,
)
from consent.services.consents import consent_opt_out_all, consent_withdraw
from consent.unit import ConsentChange, joined


class UnsubscribeScope(models.TextChoices):
    PRODUCT = "product", _("This product only")
    CHANNEL = "channel", _("All marketing on this channel")
    ALL = "all", _("All marketing on every channel")


# Pages already in mailboxes post the scope under its earlier name.
SCOPE_ALIASES = {"topic": UnsubscribeScope.PRODUCT}


def unsubscribe_scope(value: str | None) -> str | None:
    """The scope a form or request names, or None when it names none we know."""
    value = SCOPE_ALIASES.get(value or "", value or UnsubscribeScope.PRODUCT)
    return value if value in UnsubscribeScope.values else None


@dataclass
class Unsubscribed:
    events: list[ConsentEvent] = field(default_factory=list)
    cells_changed: int = 0
    # A single product that had been granted: the page offers to undo it.
    undoable: bool = False

    @property
    def event(self) -> ConsentEvent | None:
        return self.events[0] if self.events else None


def consent_unsubscribe(
    *,
    customer: Customer,
    channel: Channel,
    topic: Topic | None,
    scope: str,
    source: str,
    actor: Actor | str,
    evidence: Evidence | None = None,
    contact_point: ContactPoint | None = None,
    occurred_at: datetime | None = None,
    change: ConsentChange | None = None,
) -> Unsubscribed:
    """Withdraw at ``scope``. Nothing is written when nothing is left to withdraw
    (the product already withdrawn, nothing granted on the channel, all marketing
    already stopped). ``product`` without a known product means the channel."""
    kwargs = {
        "source": source,
        "actor": actor,
        "evidence": evidence,
        "contact_point": contact_point,
        "occurred_at": occurred_at,
    }
    with joined(change, actor=actor, source=source, evidence=evidence) as change:
        change.lock(customer)
        if scope == UnsubscribeScope.ALL:
            if OptOut.objects.filter(customer=customer).exists():
                return Unsubscribed()
            event = consent_opt_out_all(customer=customer, change=change, **kwargs)
            return Unsubscribed([event], event.cells_changed)
        if scope == UnsubscribeScope.PRODUCT and topic is not None:
            state = ConsentState.objects.filter(
                customer=customer, channel=channel, topic=topic
            ).first()
            if state is not None and state.status == ConsentState.Status.WITHDRAWN:
                return Unsubscribed()
            event = consent_withdraw(
                customer=customer, channel=channel, topic=topic, change=change, **kwargs
            )
            return Unsubscribed([event], event.cells_changed, state is not None)
        if (
            not ConsentState.objects.granted()
            .filter(
                customer=customer, channel=channel, topic__kind=Topic.Kind.MARKETING
            )
            .exists()
        ):
            return Unsubscribed()
        event = consent_withdraw(
            customer=customer, channel=channel, topic=None, change=change, **kwargs
        )
        return Unsubscribed([event], event.cells_changed)
