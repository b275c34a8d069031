"""What the portal keeps about a customer that goes when their data is erased
(registered with ``consent.erasure`` through ``consent.hooks``)."""

from __future__ import annotations

from consent.models import Customer


def forget_customer(*, customer: Customer, **_kwargs) -> None:
    """Preference data, pending codes, identity facts and the settings record."""
    from preferences.models import (
        CarePause,
        FrequencyCap,
        IdentityCheck,
        OneTimeCode,
        Preference,
        SettingChange,
    )

    OneTimeCode.objects.filter(contact_point__customer=customer).delete()
    CarePause.objects.filter(customer=customer).delete()
    FrequencyCap.objects.filter(customer=customer).delete()
    Preference.objects.filter(customer=customer).delete()
    IdentityCheck.objects.filter(customer=customer).delete()
    SettingChange.objects.filter(customer=customer).delete()
