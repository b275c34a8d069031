"""What preferences contribute to contactability, registered with the core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consent.hooks import HolderPreferences
from preferences.models import DEFAULT_QUIET_HOURS, CarePause, FrequencyCap, Preference

DEFAULT = HolderPreferences(quiet_hours=DEFAULT_QUIET_HOURS)


def holder_preferences(
    customer_ids: Iterable[int], now: datetime
) -> dict[int, HolderPreferences]:
    """Quiet hours, caps, personalisation and the running care pause of these
    customers, in three queries whatever their number."""
    ids = list(customer_ids)
    prefs = {p.customer_id: p for p in Preference.objects.filter(customer_id__in=ids)}
    caps: dict[int, dict[int, int]] = {}
    for customer_id, channel_id, limit in FrequencyCap.objects.filter(
        customer_id__in=ids
    ).values_list("customer_id", "channel_id", "max_per_week"):
        caps.setdefault(customer_id, {})[channel_id] = limit
    pauses: dict[int, tuple[datetime, bool]] = {}
    for pause in CarePause.objects.active_at(now).filter(customer_id__in=ids):
        until, collections = pauses.get(pause.customer_id, (pause.ends_at, False))
        pauses[pause.customer_id] = (
            max(until, pause.ends_at),
            collections or pause.holds_collections,
        )
    out = {}
    for pk in ids:
        pref = prefs.get(pk)
        until, collections = pauses.get(pk, (None, False))
        out[pk] = HolderPreferences(
            pause_until=until,
            pause_holds_collections=collections,
            quiet_hours=pref.quiet_hours() if pref else DEFAULT_QUIET_HOURS,
            caps=caps.get(pk, {}),
            personalisation=pref.personalisation_allowed if pref else True,
        )
    return out


def erase_preferences(*, customer) -> None:
    """Erasure: preference data and pending codes go with the customer's data."""
    from preferences.models import OneTimeCode

    OneTimeCode.objects.filter(contact_point__customer=customer).delete()
    CarePause.objects.filter(customer=customer).delete()
    FrequencyCap.objects.filter(customer=customer).delete()
    Preference.objects.filter(customer=customer).delete()
