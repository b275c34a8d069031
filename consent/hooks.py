"""Extension points that other apps fill in from ``AppConfig.ready()``.

``consent`` is the ground floor and imports no other app. Where the core needs
something another app owns (preferences that shape contactability, a complaint opened
by a spam report, demo data), that app registers a callable here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone


@dataclass(frozen=True)
class HolderPreferences:
    """What a customer's preferences contribute to contactability."""

    pause_until: datetime | None = None
    pause_holds_collections: bool = False
    quiet_hours: dict[str, str] | None = None
    caps: dict[int, int] = field(default_factory=dict)  # channel id -> per 7 days
    personalisation: bool = True


# customer ids, now -> preferences of those customers (absent: the defaults above)
PreferenceProvider = Callable[[Iterable[int], datetime], dict[int, HolderPreferences]]
# The same read for PostgreSQL's one refresh statement: (SQL selecting the customer
# ids, now) -> ([(JSON subquery, params), ...], parse(*values) -> preferences).
PreferenceSql = Callable[[str, datetime], tuple[list[tuple[str, list]], Callable]]


@dataclass(frozen=True)
class CarePauses:
    """Care pauses as the app that owns them offers them to staff tools: start one
    (keyword arguments of that app's service) and the choices to offer."""

    start: Callable[..., Any]
    scopes: Callable[[], list[tuple[str, str]]]
    reasons: Callable[[], list[tuple[str, str]]]


@dataclass
class _Registry:
    # Reads the preferences that shape contactability (one provider), and what a
    # customer without any preference row gets.
    preference_provider: PreferenceProvider | None = None
    preference_sql: PreferenceSql | None = None
    # Starts a care pause for staff tools (the call centre's form).
    care_pauses: CarePauses | None = None
    default_preferences: HolderPreferences = field(default_factory=HolderPreferences)
    # Opens a complaint for a spam report; returns an object with ``reference``.
    spam_report_handlers: list[Callable[..., Any]] = field(default_factory=list)
    # Called with ``violation`` (a send to a key not permitted at send time), in the
    # same transaction; may return an object with ``reference`` (a complaint).
    violation_handlers: list[Callable[..., Any]] = field(default_factory=list)
    # Opens the correction task for a "not me" (portal page or SMS reply), in the same
    # transaction: called with kind, normalised, blind_index, contact_points, via;
    # returns the task.
    not_me_report_handlers: list[Callable[..., Any]] = field(default_factory=list)
    # The due time of a reply review (one business day after ``start``); the
    # default skips weekends only.
    review_due: Callable[[datetime], datetime] | None = None
    # Called with ``customer`` when its personal data is erased (same transaction).
    erasure_handlers: list[Callable[..., None]] = field(default_factory=list)
    # (name, callable(customer) -> data) sections of a customer's data export.
    export_sections: list[tuple[str, Callable[[Any], Any]]] = field(
        default_factory=list
    )
    # (name, callable(customer) -> objects) sections of the export for people.
    readable_export_sections: list[tuple[str, Callable[[Any], Any]]] = field(
        default_factory=list
    )
    # Compare another app's projection with the ledger: () -> difference lines.
    projection_checks: list[Callable[[], list[str]]] = field(default_factory=list)
    # Called after commit with the id of an address staff or an import added
    # unverified: its holder is asked to confirm it (double opt-in).
    unconfirmed_contact_handlers: list[Callable[[int], None]] = field(
        default_factory=list
    )
    # (order, callable(stdout=…)) pairs run by ``seed_demo`` after the core's demo
    # customers.
    demo_seeders: list[tuple[int, Callable[..., Any]]] = field(default_factory=list)


registry = _Registry()


def register_preference_provider(
    provider: PreferenceProvider,
    *,
    default: HolderPreferences,
    sql: PreferenceSql | None = None,
) -> None:
    registry.preference_provider = provider
    registry.default_preferences = default
    registry.preference_sql = sql


def holder_preferences(
    customer_ids: Iterable[int], now: datetime
) -> dict[int, HolderPreferences]:
    """Every asked customer's preferences (the defaults where they set none)."""
    ids = list(customer_ids)
    provider = registry.preference_provider
    found = provider(ids, now) if provider is not None and ids else {}
    return {pk: found.get(pk, registry.default_preferences) for pk in ids}


def register_care_pauses(care_pauses: CarePauses) -> None:
    registry.care_pauses = care_pauses


def care_pauses() -> CarePauses:
    if registry.care_pauses is None:
        raise LookupError("No app offers care pauses.")
    return registry.care_pauses


def register_spam_report_handler(handler: Callable[..., Any]) -> None:
    if handler not in registry.spam_report_handlers:
        registry.spam_report_handlers.append(handler)


def register_violation_handler(handler: Callable[..., Any]) -> None:
    if handler not in registry.violation_handlers:
        registry.violation_handlers.append(handler)


def register_not_me_report_handler(handler: Callable[..., Any]) -> None:
    if handler not in registry.not_me_report_handlers:
        registry.not_me_report_handlers.append(handler)


def register_review_due(calculator: Callable[[datetime], datetime]) -> None:
    """A business-day calendar for review due times (complaints owns calendars)."""
    registry.review_due = calculator


def review_due(start: datetime) -> datetime:
    """One business day after ``start``: the registered calendar, else the same
    time on the next weekday."""
    if registry.review_due is not None:
        return registry.review_due(start)
    due = start + timedelta(days=1)
    while timezone.localtime(due).weekday() >= 5:
        due += timedelta(days=1)
    return due


def register_erasure_handler(handler: Callable[..., None]) -> None:
    if handler not in registry.erasure_handlers:
        registry.erasure_handlers.append(handler)


def register_unconfirmed_contact_handler(handler: Callable[[int], None]) -> None:
    if handler not in registry.unconfirmed_contact_handlers:
        registry.unconfirmed_contact_handlers.append(handler)


def contact_point_unconfirmed(contact_point_id: int) -> None:
    for handler in registry.unconfirmed_contact_handlers:
        handler(contact_point_id)


def register_demo_seeder(order: int, seeder: Callable[..., Any]) -> None:
    if all(s is not seeder for _o, s in registry.demo_seeders):
        registry.demo_seeders.append((order, seeder))
        registry.demo_seeders.sort(key=lambda pair: pair[0])


def register_projection_check(check: Callable[[], list[str]]) -> None:
    if check not in registry.projection_checks:
        registry.projection_checks.append(check)


def register_export_section(name: str, section: Callable[[Any], Any]) -> None:
    if all(n != name for n, _s in registry.export_sections):
        registry.export_sections.append((name, section))


def export_sections() -> list[tuple[str, Callable[[Any], Any]]]:
    return list(registry.export_sections)


def register_readable_export_section(name: str, section: Callable[[Any], Any]) -> None:
    """A section of the export for people: ``section(customer)`` returns what the
    page shows under ``name`` (model objects, labelled by the template)."""
    if all(n != name for n, _s in registry.readable_export_sections):
        registry.readable_export_sections.append((name, section))


def readable_export_sections(customer) -> dict[str, Any]:
    return {
        name: section(customer) for name, section in registry.readable_export_sections
    }
