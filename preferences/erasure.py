"""What the portal keeps about a customer that goes when their data is erased."""

from __future__ import annotations

from consent.models import Customer


def forget_customer(*, customer: Customer, **_kwargs) -> None:
    from preferences.models import IdentityCheck, SettingChange

    IdentityCheck.objects.filter(customer=customer).delete()
    SettingChange.objects.filter(customer=customer).delete()


def forget_when_erased(sender, instance: Customer, **_kwargs) -> None:
    """The erasure sets the customer's status in its own transaction; the identity
    facts and the settings record go with it."""
    if instance.status == Customer.Status.ERASED:
        forget_customer(customer=instance)
