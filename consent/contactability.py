"""Contactability: the pure decision of what may be sent to one (identifier, channel).

Nothing here touches the database. ``consent.keys.keys_recompute`` gathers
the facts, calls :func:`compute`, and publishes the result when it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time


class Reason:
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    OPT_OUT_ALL = "opt_out_all"
    NOT_ME = "not_me"
    INVALID = "invalid"
    CARE_PAUSE = "care_pause"
    QUIET_HOURS = "quiet_hours"
    FREQUENCY_CAP = "frequency_cap"
    COMPLAINT = "complaint"

    ALL = (
        NO_CONSENT,
        WITHDRAWN,
        OPT_OUT_ALL,
        NOT_ME,
        INVALID,
        CARE_PAUSE,
        QUIET_HOURS,
        FREQUENCY_CAP,
        COMPLAINT,
    )


@dataclass(frozen=True)
class TopicInfo:
    code: str
    marketing: bool
    held_by_care_pause: bool = False
    # A service topic the customer may switch off: a holder's withdrawn cell holds it.
    customer_may_refuse: bool = False

    @classmethod
    def of(cls, topic) -> TopicInfo:
        """From a ``consent.models.Topic`` (read duck-typed: this module stays pure)."""
        return cls(
            topic.code,
            topic.is_marketing,
            topic.held_by_care_pause,
            bool(getattr(topic, "is_refusable_service", False)),
        )


@dataclass(frozen=True)
class Holder:
    """One customer linked to the identifier, with the facts that matter for it."""

    contact_status: str = "active"  # active | not_me | invalid
    customer_status: str = "active"  # active | deceased | erased
    opted_out: bool = False
    # topic code -> (status, source) on this channel
    states: dict[str, tuple[str, str]] = field(default_factory=dict)
    # topic code -> when the standing grant on this channel was recorded
    granted_at: dict[str, datetime] = field(default_factory=dict)
    # when this holder proved the address (their consent counts from then on)
    holder_since: datetime | None = None
    pause_until: datetime | None = None
    pause_holds_collections: bool = False
    quiet_hours: dict[str, str] | None = None
    max_per_week: int | None = None
    personalisation: bool = True


@dataclass(frozen=True)
class KeyState:
    suppressed: bool
    permitted_topics: list[str]
    reasons: list[str]
    topic_reasons: dict[str, list[str]]
    paused_until: datetime | None
    quiet_hours: dict[str, str] | None
    max_per_week: int | None
    personalisation: bool

    def as_fields(self) -> dict:
        return {
            "suppressed": self.suppressed,
            "permitted_topics": self.permitted_topics,
            "reasons": self.reasons,
            "topic_reasons": self.topic_reasons,
            "paused_until": self.paused_until,
            "quiet_hours": self.quiet_hours,
            "max_per_week": self.max_per_week,
            "personalisation": self.personalisation,
        }


def _window_minutes(quiet: dict[str, str]) -> int:
    start = time.fromisoformat(quiet["start"])
    end = time.fromisoformat(quiet["end"])
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return minutes % (24 * 60)


def _widest_quiet_hours(holders: Sequence[Holder]) -> dict[str, str] | None:
    windows = [h.quiet_hours for h in holders if h.quiet_hours]
    return max(windows, key=_window_minutes) if windows else None


def _blocked(reasons: list[str], topics: Sequence[TopicInfo]) -> KeyState:
    return KeyState(
        suppressed=True,
        permitted_topics=[],
        reasons=reasons,
        topic_reasons={t.code: list(reasons) for t in topics},
        paused_until=None,
        quiet_hours=None,
        max_per_week=None,
        personalisation=False,
    )


@dataclass(frozen=True)
class Refusal:
    """A refusal of marketing kept against the identifier itself, not a customer:
    an erased holder's (``erased``) or a STOP from a number nobody held (``stop``).
    It holds for a marketing topic until a verified holder grants it after
    ``since`` and after they proved the address; it never holds service messages."""

    reason: str  # erased | stop
    since: datetime

    @property
    def published(self) -> str:
        return Reason.WITHDRAWN if self.reason == "stop" else Reason.OPT_OUT_ALL


def _lifted(refusal: Refusal, topic: str, holders: Sequence[Holder]) -> bool:
    for holder in holders:
        status, _source = holder.states.get(topic, (None, None))
        granted_at = holder.granted_at.get(topic)
        if status != "granted" or granted_at is None or granted_at <= refusal.since:
            continue
        if holder.holder_since is None or granted_at >= holder.holder_since:
            return True
    return False


def _marketing_reasons(
    topic: str, holders: Sequence[Holder], refusals: Sequence[Refusal] = ()
) -> set[str]:
    reasons: set[str] = {
        r.published for r in refusals if not _lifted(r, topic, holders)
    }
    granted = False
    for holder in holders:
        if holder.opted_out or holder.customer_status != "active":
            reasons.add(Reason.OPT_OUT_ALL)
        if holder.pause_until is not None:
            reasons.add(Reason.CARE_PAUSE)
        status, source = holder.states.get(topic, (None, None))
        if status == "withdrawn":
            reasons.add(Reason.COMPLAINT if source == "complaint" else Reason.WITHDRAWN)
        elif status == "granted":
            granted = True
    if not granted and not reasons:
        reasons.add(Reason.NO_CONSENT)
    return reasons


def _service_reasons(
    topic: TopicInfo, holders: Sequence[Holder], collections_held: bool
) -> set[str]:
    """A service message is held by a care pause (collections), and a refusable
    one by any holder's refusal of it on this channel: the person holding the
    phone said no, whichever record they said it on."""
    held = topic.held_by_care_pause and collections_held
    reasons = {Reason.CARE_PAUSE} if held else set()
    if topic.customer_may_refuse:
        for holder in holders:
            status, source = holder.states.get(topic.code, (None, None))
            if status == "withdrawn":
                reasons.add(
                    Reason.COMPLAINT if source == "complaint" else Reason.WITHDRAWN
                )
    return reasons


def compute(
    *,
    holders: Sequence[Holder],
    topics: Sequence[TopicInfo],
    identifier_flags: Sequence[str] = (),
    identifier_refusals: Sequence[Refusal] = (),
) -> KeyState:
    """Decide what may be sent to one identifier on one channel.

    ``holders`` are the customers whose live contact points carry the identifier;
    ``identifier_flags`` are reasons recorded against the identifier itself (a "not
    me" for an unknown number, a deceased customer), which block everything;
    ``identifier_refusals`` are refusals of marketing kept against it (an erased
    holder's, a STOP from an unknown number), which a later holder's own grant
    lifts for that topic.
    """
    blocking: set[str] = set()
    for holder in holders:
        if holder.contact_status == "not_me":
            blocking.add(Reason.NOT_ME)
        elif holder.contact_status == "invalid":
            blocking.add(Reason.INVALID)
    for flag in identifier_flags:
        blocking.add(Reason.NOT_ME if flag == "not_me" else Reason.OPT_OUT_ALL)
    if blocking:
        return _blocked(sorted(blocking), topics)
    if not holders:
        kept = sorted({r.published for r in identifier_refusals})
        return _blocked(kept or [Reason.NO_CONSENT], topics)

    permitted: list[str] = []
    topic_reasons: dict[str, list[str]] = {}
    marketing_reasons: set[str] = set()
    collections_held = any(
        h.pause_until is not None and h.pause_holds_collections for h in holders
    )
    for topic in topics:
        if topic.marketing:
            reasons = _marketing_reasons(topic.code, holders, identifier_refusals)
            marketing_reasons |= reasons
        else:
            reasons = _service_reasons(topic, holders, collections_held)
        if reasons:
            topic_reasons[topic.code] = sorted(reasons)
        else:
            permitted.append(topic.code)

    marketing_codes = {t.code for t in topics if t.marketing}
    suppressed = not (marketing_codes & set(permitted))
    pauses = [h.pause_until for h in holders if h.pause_until is not None]
    caps = [h.max_per_week for h in holders if h.max_per_week is not None]
    return KeyState(
        suppressed=suppressed,
        permitted_topics=sorted(permitted),
        reasons=sorted(marketing_reasons) if suppressed else [],
        topic_reasons=topic_reasons,
        paused_until=max(pauses) if pauses else None,
        quiet_hours=_widest_quiet_hours(holders),
        max_per_week=min(caps) if caps else None,
        personalisation=all(h.personalisation for h in holders),
    )
