"""What preferences contribute to contactability, registered with the core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Exists, OuterRef, Subquery

from consent.hooks import HolderPreferences
from consent.models import Customer
from preferences.models import DEFAULT_QUIET_HOURS, CarePause, FrequencyCap

DEFAULT = HolderPreferences(quiet_hours=DEFAULT_QUIET_HOURS)


def holder_preferences(
    customer_ids: Iterable[int], now: datetime
) -> dict[int, HolderPreferences]:
    """Quiet hours, caps, personalisation and the running care pause of these
    customers, in two queries whatever their number."""
    ids = list(customer_ids)
    running = CarePause.objects.active_at(now).filter(customer_id=OuterRef("pk"))
    rows = (
        Customer.objects.filter(pk__in=ids)
        .annotate(
            pause_until=Subquery(
                running.order_by("-ends_at").values("ends_at")[:1]
            ),
            pause_collections=Exists(
                running.filter(scope=CarePause.Scope.MARKETING_COLLECTIONS)
            ),
        )
        .values_list(
            "pk",
            "preference__quiet_start",
            "preference__quiet_end",
            "preference__time_zone",
            "preference__personalisation_allowed",
            "pause_until",
            "pause_collections",
        )
    )
    caps: dict[int, dict[int, int]] = {}
    for customer_id, channel_id, limit in FrequencyCap.objects.filter(
        customer_id__in=ids
    ).values_list("customer_id", "channel_id", "max_per_week"):
        caps.setdefault(customer_id, {})[channel_id] = limit
    out = {}
    for pk, start, end, tz, personalisation, until, collections in rows:
        quiet = (
            {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "tz": tz}
            if start is not None
            else DEFAULT_QUIET_HOURS
        )
        out[pk] = HolderPreferences(
            pause_until=until,
            pause_holds_collections=bool(until and collections),
            quiet_hours=quiet,
            caps=caps.get(pk, {}),
            personalisation=personalisation is not False,
        )
    return out
