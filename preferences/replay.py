"""Rebuild the preferences that shape contactability from the consent ledger alone.

Every preference change is a ledger row carrying its new values (``detail``), so the
quiet hours, caps, personalisation choice and running care pause of every customer
follow from the ledger; any difference means a table was changed outside a service.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time

from django.utils import timezone

from consent.models import ConsentEvent
from preferences.models import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_TIME_ZONE,
    CarePause,
    FrequencyCap,
    Preference,
)

Action = ConsentEvent.Action
ACTIONS = (
    Action.PREFERENCES_SET,
    Action.FREQUENCY_CAPS_SET,
    Action.PERSONALISATION_SET,
    Action.CARE_PAUSE_START,
    Action.CARE_PAUSE_END,
)


def _hm(value: time) -> str:
    return value.strftime("%H:%M")


@dataclass(frozen=True)
class Prefs:
    """One customer's contact rules, as the ledger or the tables tell them."""

    quiet: tuple[str, str, str] = (
        _hm(DEFAULT_QUIET_START),
        _hm(DEFAULT_QUIET_END),
        DEFAULT_TIME_ZONE,
    )
    preferred_channel: str | None = None
    personalisation: bool = True
    caps: tuple[tuple[str, int], ...] = ()
    pause: tuple[datetime, str, str] | None = None  # until, scope, reason


def _apply(prefs: Prefs, action: str, detail: dict) -> Prefs:
    if action == Action.PREFERENCES_SET:
        return replace(
            prefs,
            quiet=(detail["start"], detail["end"], detail["tz"]),
            preferred_channel=detail.get("preferred_channel"),
        )
    if action == Action.FREQUENCY_CAPS_SET:
        caps = dict(prefs.caps)
        for code, limit in detail["caps"].items():
            if limit is None:
                caps.pop(code, None)
            else:
                caps[code] = limit
        return replace(prefs, caps=tuple(sorted(caps.items())))
    if action == Action.PERSONALISATION_SET:
        return replace(prefs, personalisation=detail["allowed"])
    if action == Action.CARE_PAUSE_START:
        until = datetime.fromisoformat(detail["ends_at"])
        return replace(prefs, pause=(until, detail["scope"], detail["reason"]))
    return replace(prefs, pause=None)  # CARE_PAUSE_END


def _running(prefs: Prefs, now: datetime) -> Prefs:
    if prefs.pause is not None and prefs.pause[0] <= now:
        return replace(prefs, pause=None)
    return prefs


def ledger_preferences(now: datetime | None = None) -> dict[int, Prefs]:
    now = now or timezone.now()
    out: dict[int, Prefs] = {}
    rows = (
        ConsentEvent.objects.filter(action__in=ACTIONS)
        .order_by("seq")
        .values_list("customer_id", "action", "detail")
        .iterator(chunk_size=5000)
    )
    for customer_id, action, detail in rows:
        out[customer_id] = _apply(out.get(customer_id, Prefs()), action, detail or {})
    running = {pk: _running(p, now) for pk, p in out.items()}
    return {pk: p for pk, p in running.items() if p != Prefs()}


def stored_preferences(now: datetime | None = None) -> dict[int, Prefs]:
    now = now or timezone.now()
    out: dict[int, Prefs] = {}
    for pref in Preference.objects.select_related("preferred_channel"):
        out[pref.customer_id] = Prefs(
            quiet=(_hm(pref.quiet_start), _hm(pref.quiet_end), pref.time_zone),
            preferred_channel=(
                pref.preferred_channel.code if pref.preferred_channel else None
            ),
            personalisation=pref.personalisation_allowed,
        )
    caps: dict[int, dict[str, int]] = {}
    for customer_id, code, limit in FrequencyCap.objects.values_list(
        "customer_id", "channel__code", "max_per_week"
    ):
        caps.setdefault(customer_id, {})[code] = limit
    for customer_id, by_channel in caps.items():
        out[customer_id] = replace(
            out.get(customer_id, Prefs()), caps=tuple(sorted(by_channel.items()))
        )
    for pause in CarePause.objects.active_at(now).order_by("starts_at"):
        out[pause.customer_id] = replace(
            out.get(pause.customer_id, Prefs()),
            pause=(pause.ends_at, pause.scope, pause.reason),
        )
    return {pk: p for pk, p in out.items() if p != Prefs()}


def preference_differences(
    expected: dict[int, Prefs], actual: dict[int, Prefs]
) -> list[str]:
    return [
        f"preferences customer={pk}: ledger says {expected.get(pk)}, "
        f"tables have {actual.get(pk)}"
        for pk in sorted(expected.keys() | actual.keys())
        if expected.get(pk) != actual.get(pk)
    ]


def preference_check() -> list[str]:
    """For ``rebuild_consent_state``: the tables against the ledger."""
    now = timezone.now()
    return preference_differences(ledger_preferences(now), stored_preferences(now))
