"""Erasure of a customer's personal data (PIPL art. 47) that keeps their refusal.

Addresses, name and preference data go; each identifier stays as a keyed hash
(``SuppressedIdentifier``, reason ``erased``) so a later import or check still finds
it suppressed. The published identifier of each key stays in the suppression list for
a grace period, so the final suppressed row reaches every sending system in a form
it can match, then only the blind index remains. The ledger keeps its rows: they hold
ids and evidence, not addresses.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.errors import ApplicationError
from consent.ledger import lock_head
from consent.models import (
    Contactability,
    ContactPoint,
    Customer,
    SuppressedIdentifier,
    SuppressionChange,
)
from consent.services import contactability_refresh

MSG_ALREADY_ERASED = _("This customer's data was already erased.")


@transaction.atomic
def customer_erase(*, customer: Customer) -> list[SuppressionChange]:
    """Erase the customer's personal data; return the final feed rows written."""
    from preferences.models import CarePause, FrequencyCap, OneTimeCode, Preference

    head = lock_head()
    customer.refresh_from_db()
    if customer.status == Customer.Status.ERASED:
        raise ApplicationError(MSG_ALREADY_ERASED, code="already_erased")
    now = timezone.now()
    points = list(ContactPoint.objects.filter(customer=customer))
    indexes = {cp.blind_index for cp in points}
    for cp in points:
        SuppressedIdentifier.objects.get_or_create(
            blind_index=cp.blind_index,
            reason=SuppressedIdentifier.Reason.ERASED,
            defaults={"kind": cp.kind},
        )
    ContactPoint.objects.filter(customer=customer).update(
        address_encrypted="", removed_at=now
    )
    OneTimeCode.objects.filter(contact_point__customer=customer).delete()
    CarePause.objects.filter(customer=customer).delete()
    FrequencyCap.objects.filter(customer=customer).delete()
    Preference.objects.filter(customer=customer).delete()
    customer.display_name_encrypted = ""
    customer.status = Customer.Status.ERASED
    customer.erased_at = now
    customer.save(update_fields=["display_name_encrypted", "status", "erased_at"])

    changes = contactability_refresh(head=head, blind_indexes=indexes, now=now)
    # Keys nobody else still holds keep only their blind index once every sending
    # system has had time to receive the final suppressed row with the identifier.
    still_held = set(
        ContactPoint.objects.filter(
            blind_index__in=indexes, removed_at__isnull=True
        ).values_list("blind_index", flat=True)
    )
    grace = timedelta(days=settings.ERASED_IDENTIFIER_GRACE_DAYS)
    Contactability.objects.filter(blind_index__in=indexes - still_held).update(
        identifier_erase_at=now + grace
    )
    return changes


def erased_identifiers_clear(*, now=None) -> int:
    """Blank published identifiers whose grace period after erasure is over."""
    now = now or timezone.now()
    return Contactability.objects.filter(identifier_erase_at__lte=now).update(
        identifier="", identifier_erase_at=None
    )
