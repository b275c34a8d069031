"""Erasure of a customer's personal data (PIPL art. 47) that keeps their refusal.

Addresses, name and preference data go; each identifier stays as a keyed hash
(``SuppressedIdentifier``, reason ``erased``) so a later import or check still finds
it suppressed. The published identifier of each key stays in the suppression list for
a grace period, so the final suppressed row reaches every sending system in a form
it can match, then only the blind index remains. The ledger keeps its rows: they hold
ids and evidence, not addresses.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent import hooks
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import (
    ConsentEvent,
    Contactability,
    ContactPoint,
    Customer,
    ProfileTag,
    SuppressedIdentifier,
    SuppressionChange,
)
from consent.unit import consent_change

MSG_ALREADY_ERASED = _("This customer's data was already erased.")


def customer_erase(
    *, customer: Customer, actor: Actor | str | None = None
) -> list[SuppressionChange]:
    """Erase the customer's personal data; return the final feed rows written."""
    with consent_change(
        actor=actor or Actor.system("erasure"), source=ConsentEvent.Source.SYSTEM
    ) as change:
        if change.lock(customer).get(customer.pk) == Customer.Status.ERASED:
            raise ApplicationError(MSG_ALREADY_ERASED, code="already_erased")
        points = list(ContactPoint.objects.filter(customer=customer))
        for cp in points:
            SuppressedIdentifier.objects.get_or_create(
                blind_index=cp.blind_index,
                reason=SuppressedIdentifier.Reason.ERASED,
                defaults={"kind": cp.kind},
            )
            change.touch_identifier(cp.blind_index, erased=True)
        ContactPoint.objects.filter(customer=customer).update(
            address_encrypted="", removed_at=change.now
        )
        ProfileTag.objects.filter(customer=customer).delete()
        for handler in hooks.registry.erasure_handlers:
            handler(customer=customer)
        customer.display_name_encrypted = ""
        customer.status = Customer.Status.ERASED
        customer.erased_at = change.now
        customer.save(update_fields=["display_name_encrypted", "status", "erased_at"])
    return change.feed


def erased_identifiers_clear(*, now=None) -> int:
    """Blank published identifiers whose grace period after erasure is over."""
    now = now or timezone.now()
    return Contactability.objects.filter(identifier_erase_at__lte=now).update(
        identifier="", identifier_erase_at=None
    )
