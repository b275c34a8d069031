"""What preferences contribute to contactability, registered with the core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from consent.hooks import HolderPreferences
from consent.models import Customer
from preferences.models import DEFAULT_QUIET_HOURS, CarePause, FrequencyCap

DEFAULT = HolderPreferences(quiet_hours=DEFAULT_QUIET_HOURS)

_ROW = ("c_id", "q_start", "q_end", "q_tz", "p_allowed", "p_until", "p_collections")


def _rows(customers: Q, now: datetime) -> QuerySet:
    running = CarePause.objects.active_at(now).filter(customer_id=OuterRef("pk"))
    return (
        Customer.objects.filter(customers)
        .annotate(
            c_id=F("pk"),
            q_start=F("preference__quiet_start"),
            q_end=F("preference__quiet_end"),
            q_tz=F("preference__time_zone"),
            p_allowed=F("preference__personalisation_allowed"),
            p_until=Subquery(running.order_by("-ends_at").values("ends_at")[:1]),
            p_collections=Exists(
                running.filter(scope=CarePause.Scope.MARKETING_COLLECTIONS)
            ),
        )
        .values_list(*_ROW)
    )


def _caps(customers: Q) -> QuerySet:
    return FrequencyCap.objects.filter(customers).values_list(
        "customer_id", "channel_id", "max_per_week"
    )


def _hh_mm(value) -> str:
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)[:5]


def _build(rows: Iterable, caps: Iterable) -> dict[int, HolderPreferences]:
    limits: dict[int, dict[int, int]] = {}
    for customer_id, channel_id, limit in caps:
        limits.setdefault(customer_id, {})[channel_id] = limit
    out = {}
    for pk, start, end, tz, personalisation, until, collections in rows:
        quiet = (
            {"start": _hh_mm(start), "end": _hh_mm(end), "tz": tz}
            if start is not None
            else DEFAULT_QUIET_HOURS
        )
        if isinstance(until, str):
            until = datetime.fromisoformat(until)
        out[pk] = HolderPreferences(
            pause_until=until,
            pause_holds_collections=bool(until and collections),
            quiet_hours=quiet,
            caps=limits.get(pk, {}),
            personalisation=personalisation is not False,
        )
    return out


def holder_preferences(
    customer_ids: Iterable[int], now: datetime
) -> dict[int, HolderPreferences]:
    """Quiet hours, caps, personalisation and the running care pause of these
    customers, in two queries whatever their number."""
    ids = list(customer_ids)
    return _build(_rows(Q(pk__in=ids), now), _caps(Q(customer_id__in=ids)))


# A stand-in for "now" while the SQL is compiled once per process; each call puts
# the real time in its place.
_NOW = datetime(2000, 1, 1, 0, 0, 0, 424242, tzinfo=UTC)


@lru_cache(maxsize=8)
def _compiled(customers_sql: str) -> tuple[tuple[str, tuple], ...]:
    from django.db.models.expressions import RawSQL

    ids = RawSQL(f"SELECT unnest(ARRAY({customers_sql}))", [])
    parts = []
    for query in (_rows(Q(pk__in=ids), _NOW), _caps(Q(customer_id__in=ids))):
        sql, params = query.query.sql_with_params()
        parts.append((f"(SELECT json_agg(q) FROM ({sql}) q)", tuple(params)))
    return tuple(parts)


def _parse(rows, caps) -> dict[int, HolderPreferences]:
    return _build(
        ([row[name] for name in _ROW] for row in rows or ()),
        (
            (cap["customer_id"], cap["channel_id"], cap["max_per_week"])
            for cap in caps or ()
        ),
    )


def holder_preferences_sql(customers_sql: str, now: datetime):
    """The same read as subqueries of the core's one refresh statement (PostgreSQL):
    ``customers_sql`` selects the customer ids. Returns the JSON subqueries with
    their parameters and the function that turns their values into preferences.
    The SQL is built by the ORM once per process."""
    parts = [
        (sql, [now if param == _NOW else param for param in params])
        for sql, params in _compiled(customers_sql)
    ]
    return parts, _parse
