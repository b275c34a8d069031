"""The send-time decision: may this message go to this key now? One function,
used by the batch check (before a send) and by the send audit (after one)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consent.contactability import Reason


class QuietHours:
    """Quiet-hour tests at one instant, converting it once per time zone."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._local: dict[str, time] = {}
        self._held: dict[tuple[str, str, str], bool] = {}  # most keys share a window

    def _local_time(self, tz: str) -> time:
        local = self._local.get(tz)
        if local is None:
            try:
                zone = ZoneInfo(tz or "UTC")
            except (ZoneInfoNotFoundError, ValueError):
                zone = ZoneInfo("UTC")
            local = self._local[tz] = self.at.astimezone(zone).time()
        return local

    def holds(self, quiet: dict | None) -> bool:
        if not quiet:
            return False
        window = (quiet["start"], quiet["end"], quiet.get("tz") or "UTC")
        held = self._held.get(window)
        if held is None:
            held = self._held[window] = self._holds(quiet)
        return held

    def _holds(self, quiet: dict) -> bool:
        start = time.fromisoformat(quiet["start"])
        end = time.fromisoformat(quiet["end"])
        if start == end:
            return False
        local = self._local_time(quiet.get("tz") or "UTC")
        if start < end:
            return start <= local < end
        return local >= start or local < end


def send_decision(
    *,
    permitted: bool,
    held: Sequence[str],
    marketing: bool,
    quiet_hours: dict | None,
    max_per_week: int | None,
    sent: int,
    clock: QuietHours,
) -> tuple[bool, list[str]]:
    """``permitted``/``held``: whether the key permits the topic and, if not, why
    (consent, pause, not-me, …). A marketing message a key permits may still be held
    by the holder's quiet hours at ``clock.at`` or by a cap already reached
    (``sent`` marketing messages in the last 7 days). Service messages are held
    only by the key itself."""
    if not permitted:
        return False, list(held) or [Reason.NO_CONSENT]
    if not marketing:
        return True, []
    reasons = []
    if clock.holds(quiet_hours):
        reasons.append(Reason.QUIET_HOURS)
    if max_per_week is not None and sent >= max_per_week:
        reasons.append(Reason.FREQUENCY_CAP)
    return not reasons, reasons
