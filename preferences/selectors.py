"""Reads for the portal pages, each in a fixed number of queries."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from consent import hooks
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    ContactPoint,
    Customer,
    NoticeVersion,
    OptOut,
    ProfileTag,
    Topic,
)
from preferences.models import (
    CarePause,
    ErasureRequest,
    FrequencyCap,
    NotMeReport,
    Preference,
    SettingChange,
)


def language_code(language: str | None = None) -> str:
    language = (language or get_language() or "zh-hans").lower()
    return "zh-hans" if language.startswith("zh") else "en"


def notice_current(*, language: str | None = None) -> NoticeVersion | None:
    """The latest effective marketing notice in this language (else any)."""
    notices = NoticeVersion.objects.filter(
        code="marketing", effective_from__lte=timezone.now()
    ).order_by("-version")
    return notices.filter(language=language_code(language)).first() or notices.first()


@dataclass
class MatrixCell:
    channel: Channel
    topic: Topic
    on: bool
    # Off, and no confirmed address on the channel: it cannot be switched on.
    needs_address: bool = False

    @property
    def value(self) -> str:
        return f"{self.channel.code}:{self.topic.code}"

    @property
    def field_id(self) -> str:
        return f"cell-{self.channel.code}-{self.topic.code}"


@dataclass
class MatrixRow:
    topic: Topic
    cells: list[MatrixCell] = field(default_factory=list)


@dataclass
class MatrixChannelRow:
    channel: Channel
    cells: list[MatrixCell] = field(default_factory=list)


@dataclass
class PreferenceMatrix:
    channels: list[Channel]
    topics: list[Topic]
    service_topics: list[Topic]
    rows: list[MatrixRow]
    opt_out: OptOut | None
    notice: NoticeVersion | None
    # Service topics the customer may switch off: on unless refused.
    service_rows: list[MatrixRow] = field(default_factory=list)

    @property
    def service_shown_on(self) -> list[str]:
        return [c.value for row in self.service_rows for c in row.cells if c.on]

    @property
    def shown_on(self) -> list[str]:
        return [cell.value for row in self.rows for cell in row.cells if cell.on]

    @property
    def granted_count(self) -> int:
        return len(self.shown_on)

    @property
    def channels_without_address(self) -> list[Channel]:
        """Channels with a switch that cannot be switched on for want of a
        confirmed address."""
        blocked = {
            cell.channel.pk
            for row in self.rows
            for cell in row.cells
            if cell.needs_address
        }
        return [c for c in self.channels if c.pk in blocked]

    @property
    def channel_rows(self) -> list[MatrixChannelRow]:
        """The same cells with channels as rows (the per-channel layout)."""
        return [
            MatrixChannelRow(channel, [row.cells[i] for row in self.rows])
            for i, channel in enumerate(self.channels)
        ]


def confirmed_address_kinds(*, customer: Customer) -> set[str]:
    """The kinds of address (phone, email, …) the customer holds a confirmed, usable
    address of. A marketing channel can be switched on only with one (double
    opt-in: an unconfirmed address carries nothing)."""
    return set(
        customer.contact_points.filter(
            removed_at__isnull=True,
            verified_at__isnull=False,
            status=ContactPoint.Status.ACTIVE,
        ).values_list("kind", flat=True)
    )


def preference_matrix(*, customer: Customer) -> PreferenceMatrix:
    """Channels × marketing topics with the customer's current consent: five queries
    whatever the size of the catalogue."""
    channels = list(Channel.objects.filter(is_active=True))
    kinds = confirmed_address_kinds(customer=customer)
    all_topics = list(Topic.objects.filter(is_active=True))
    states = ConsentState.objects.filter(customer=customer).values_list(
        "channel_id", "topic_id", "status"
    )
    granted, refused = set(), set()
    for channel_id, topic_id, status in states:
        on = status == ConsentState.Status.GRANTED
        (granted if on else refused).add((channel_id, topic_id))
    opt_out = OptOut.objects.filter(customer=customer).first()
    topics = [t for t in all_topics if t.is_marketing]
    rows = [
        MatrixRow(
            topic=topic,
            cells=[
                MatrixCell(
                    channel,
                    topic,
                    on := (channel.pk, topic.pk) in granted,
                    needs_address=not on and channel.address_kind not in kinds,
                )
                for channel in channels
            ],
        )
        for topic in topics
    ]
    service_rows = [
        MatrixRow(
            topic=topic,
            cells=[
                MatrixCell(channel, topic, (channel.pk, topic.pk) not in refused)
                for channel in channels
            ],
        )
        for topic in all_topics
        if topic.is_refusable_service
    ]
    return PreferenceMatrix(
        channels=channels,
        topics=topics,
        service_topics=[
            t for t in all_topics if not t.is_marketing and not t.is_refusable_service
        ],
        rows=rows,
        opt_out=opt_out,
        notice=notice_current(),
        service_rows=service_rows,
    )


def preference_for(*, customer: Customer) -> Preference:
    """The saved preferences, or the defaults (not saved) if none were set yet."""
    pref = (
        Preference.objects.filter(customer=customer)
        .select_related("preferred_channel")
        .first()
    )
    return pref or Preference(customer=customer)


def frequency_caps(*, customer: Customer) -> dict[int, int]:
    return dict(
        FrequencyCap.objects.filter(customer=customer).values_list(
            "channel_id", "max_per_week"
        )
    )


def care_pause_active(*, customer: Customer) -> CarePause | None:
    return CarePause.objects.active_at(timezone.now()).filter(customer=customer).first()


def contact_points_of(*, customer: Customer) -> list[ContactPoint]:
    return list(
        customer.contact_points.filter(removed_at__isnull=True).order_by(
            "kind", "created_at"
        )
    )


def profile_tags_shown(*, customer: Customer) -> list[ProfileTag]:
    """Every profile tag bank systems pushed for the customer, newest first, with
    the system that set it (one query)."""
    return list(
        ProfileTag.objects.filter(customer=customer)
        .select_related("client")
        .order_by("-set_at", "client__name", "code")
    )


def contact_points_contested(*, customer: Customer) -> set[int]:
    """Ids of the customer's addresses whose "not me" contest staff have not
    decided yet."""
    return set(
        NotMeReport.objects.filter(
            contested_by=customer, reviewed_at__isnull=True
        ).values_list("contact_point_id", flat=True)
    )


def erasure_request_pending(*, customer: Customer) -> ErasureRequest | None:
    return customer.erasure_requests.filter(
        status=ErasureRequest.Status.PENDING
    ).first()


def history_events(*, customer: Customer) -> QuerySet[ConsentEvent]:
    return (
        ConsentEvent.objects.filter(customer=customer)
        .select_related("channel", "topic", "notice_version", "contact_point")
        .order_by("-seq")
    )


def _who(actor: str) -> str:
    kind = actor.split(":", 1)[0]
    return {
        "customer": _("You"),
        "staff": _("Bank staff"),
        "client": _("A sending system"),
        "public": _("Someone holding the link or the number"),
        "system": _("The system"),
    }.get(kind, _("The system"))


def describe_withdrawal(*, channel: str | None, topic: str | None) -> str:
    """A withdrawal in plain words, from the channel and topic labels (None: all)."""
    words = {"channel": channel, "topic": topic}
    if channel and topic:
        return _("Stopped marketing about %(topic)s by %(channel)s") % words
    if channel:
        return _("Stopped all marketing by %(channel)s") % words
    if topic:
        return _("Stopped marketing about %(topic)s on every channel") % words
    return _("Withdrew every marketing consent")


def describe_event(event: ConsentEvent) -> str:
    """The event in plain words, for the customer's own history."""
    channel = event.channel.label if event.channel_id else None
    topic = event.topic.label if event.topic_id else None
    address = event.contact_point.masked if event.contact_point_id else ""
    words = {"channel": channel, "topic": topic, "address": address}
    action = event.action
    if action == ConsentEvent.Action.GRANT:
        return _("Agreed to receive marketing about %(topic)s by %(channel)s") % words
    if action == ConsentEvent.Action.WITHDRAW:
        return describe_withdrawal(channel=channel, topic=topic)
    texts = {
        ConsentEvent.Action.OPT_OUT_ALL: _("Stopped all marketing"),
        ConsentEvent.Action.OPT_IN_ALL: _("Asked to receive marketing again"),
        ConsentEvent.Action.CONTACT_ADDED: _("Added %(address)s"),
        ConsentEvent.Action.CONTACT_VERIFIED: _("Verified %(address)s"),
        ConsentEvent.Action.CONTACT_REMOVED: _("Removed %(address)s"),
        ConsentEvent.Action.CONTACT_NOT_ME: _(
            "%(address)s was reported as not belonging to you"
        ),
        ConsentEvent.Action.CONTACT_INVALID: _("%(address)s stopped working"),
        ConsentEvent.Action.CONTACT_RESTORED: _("%(address)s was restored"),
    }
    if action == ConsentEvent.Action.PROFILE_TAGS_CLEARED:
        count = (event.detail or {}).get("count", 0)
        return ngettext(
            "Cleared %(count)d profile tag", "Cleared %(count)d profile tags", count
        ) % {"count": count}
    text = texts.get(action, event.get_action_display())
    return text % words if "%(" in text else text


@dataclass(frozen=True)
class HistoryLine:
    when: object
    what: str
    who: str
    how: str
    wording: str
    wording_language: str = ""


class HistoryEntries:
    """Ledger events and setting changes of one customer, newest first, as one
    sequence the paginator can slice: four queries per page whatever the length."""

    def __init__(self, customer: Customer):
        self.events = history_events(customer=customer)
        self.changes = SettingChange.objects.filter(customer=customer).order_by(
            "-occurred_at", "-pk"
        )

    def count(self) -> int:
        return self.events.count() + self.changes.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        stop = index.stop or self.count()
        merged = sorted(
            [*self.events[:stop], *self.changes[:stop]],
            key=lambda item: item.occurred_at,
            reverse=True,
        )
        return merged[index]


def _language_name(code: str) -> str:
    return dict(Customer.Language.choices).get(code, code)


def _list(items: list[str]) -> str:
    """Items joined with the language's list separator (、 in Chinese)."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = _("%(earlier)s, %(next)s") % {"earlier": text, "next": item}
    return text


def describe_setting_change(change: SettingChange, channels: dict[str, str]) -> str:
    """A setting change in plain words, in the reader's language."""
    details = change.details or {}
    kind = change.kind
    if kind == SettingChange.Kind.CONTACT_SETTINGS:
        hours = details.get("quiet_hours") or {}
        return _(
            "Set quiet hours %(start)s–%(end)s (%(tz)s) and the language %(language)s"
        ) % {
            "start": hours.get("start", ""),
            "end": hours.get("end", ""),
            "tz": hours.get("tz", ""),
            "language": _language_name(details.get("language", "")),
        }
    if kind == SettingChange.Kind.FREQUENCY_CAPS:
        caps = details.get("caps") or {}
        if not caps:
            return _("Removed every frequency cap")
        parts = [
            _("%(channel)s at most %(count)d")
            % {"channel": channels.get(c, c), "count": n}
            for c, n in caps.items()
        ]
        return _("Set frequency caps per 7 days: %(caps)s") % {"caps": _list(parts)}
    if kind == SettingChange.Kind.CARE_PAUSE_STARTED:
        return _("Started a care pause until %(until)s (%(scope)s, %(reason)s)") % {
            "until": details.get("until", ""),
            "scope": CarePause.Scope(details["scope"]).label
            if details.get("scope") in CarePause.Scope.values
            else "",
            "reason": CarePause.Reason(details["reason"]).label
            if details.get("reason") in CarePause.Reason.values
            else "",
        }
    if kind == SettingChange.Kind.CARE_PAUSE_ENDED:
        return _("Ended the care pause")
    if kind == SettingChange.Kind.PERSONALISATION:
        if details.get("allowed"):
            return _("Allowed marketing chosen from my profile")
        return _("Refused marketing chosen from my profile")
    return change.get_kind_display()


def _wording_language(notice: NoticeVersion) -> str:
    return "zh-Hans" if notice.language.startswith("zh") else notice.language


def history_lines(entries) -> list[HistoryLine]:
    channels = {c.code: c.label for c in Channel.objects.all()}
    lines = []
    for entry in entries:
        if isinstance(entry, SettingChange):
            lines.append(
                HistoryLine(
                    when=entry.occurred_at,
                    what=describe_setting_change(entry, channels),
                    who=_who(entry.actor),
                    how=str(ConsentEvent.Source.PORTAL.label),
                    wording="",
                )
            )
            continue
        notice = entry.notice_version if entry.notice_version_id else None
        lines.append(
            HistoryLine(
                when=entry.occurred_at,
                what=describe_event(entry),
                who=_who(entry.actor),
                how=entry.get_source_display(),
                wording=f"{notice.title} v{notice.version}" if notice else "",
                wording_language=_wording_language(notice) if notice else "",
            )
        )
    return lines


def frequency_caps_shown(*, customer: Customer) -> list[tuple[str, int]]:
    """The caps as (channel label, limit), in channel order, for the overview."""
    return [
        (cap.channel.label, cap.max_per_week)
        for cap in FrequencyCap.objects.filter(
            customer=customer, channel__is_active=True
        )
        .select_related("channel")
        .order_by("channel__position", "channel__code")
    ]


def customer_time_zone(customer: Customer) -> zoneinfo.ZoneInfo:
    pref = Preference.objects.filter(customer=customer).only("time_zone").first()
    name = pref.time_zone if pref else Preference._meta.get_field("time_zone").default
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Shanghai")


def _iso_in(zone: zoneinfo.ZoneInfo):
    """Times in the customer's own time zone, with the offset (not UTC)."""

    def iso(value) -> str | None:
        if not value:
            return None
        if isinstance(value, datetime):
            return value.astimezone(zone).isoformat(timespec="seconds")
        return value.isoformat()

    return iso


def customer_export(*, customer: Customer) -> dict:
    """Everything held about the customer (PIPL art. 45): their own addresses in
    full, times in their own time zone."""
    zone = customer_time_zone(customer)
    _iso = _iso_in(zone)
    pref = preference_for(customer=customer)
    opt_out = OptOut.objects.filter(customer=customer).first()
    return {
        "generated_at": _iso(timezone.now()),
        "time_zone": str(zone),
        "customer": {
            "reference": customer.external_ref,
            "name": customer.display_name,
            "preferred_language": customer.preferred_language,
            "status": customer.status,
        },
        "contact_points": [
            {
                "kind": cp.kind,
                "address": cp.address or cp.masked,
                "status": cp.status,
                "verified_at": _iso(cp.verified_at),
                "removed_at": _iso(cp.removed_at),
            }
            for cp in customer.contact_points.all()
        ],
        "consents": [
            {
                "channel": s.channel.code,
                "topic": s.topic.code,
                "status": s.status,
                "source": s.source,
                "updated_at": _iso(s.updated_at),
            }
            for s in ConsentState.objects.filter(customer=customer).select_related(
                "channel", "topic"
            )
        ],
        "stop_all_marketing_since": _iso(opt_out.since) if opt_out else None,
        "preferences": {
            "quiet_hours": pref.quiet_hours(),
            "settings_history": [
                {"kind": c.kind, "details": c.details, "at": _iso(c.occurred_at)}
                for c in customer.setting_changes.order_by("occurred_at", "pk")
            ],
            "preferred_channel": (
                pref.preferred_channel.code if pref.preferred_channel_id else None
            ),
            "personalisation_allowed": pref.personalisation_allowed,
            "profile_tags": [
                {
                    "code": t.code,
                    "label": t.label,
                    "set_by": t.client.name,
                    "set_at": _iso(t.set_at),
                }
                for t in profile_tags_shown(customer=customer)
            ],
            "frequency_caps": {
                cap.channel.code: cap.max_per_week
                for cap in customer.frequency_caps.select_related("channel")
            },
            "care_pauses": [
                {
                    "from": _iso(p.starts_at),
                    "until": _iso(p.ends_at),
                    "scope": p.scope,
                    "reason": p.reason,
                    "cancelled_at": _iso(p.cancelled_at),
                }
                for p in customer.care_pauses.all()
            ],
        },
        "ledger": [
            {
                "seq": e.seq,
                "action": e.action,
                "channel": e.channel.code if e.channel_id else None,
                "topic": e.topic.code if e.topic_id else None,
                "source": e.source,
                "by": e.actor.split(":", 1)[0],
                "notice_version": (
                    {
                        "title": e.notice_version.title,
                        "version": e.notice_version.version,
                        "language": e.notice_version.language,
                        "sha256": e.notice_version.sha256,
                    }
                    if e.notice_version_id
                    else None
                ),
                "occurred_at": _iso(e.occurred_at),
                "hash": e.hash,
            }
            for e in history_events(customer=customer).order_by("seq")
        ],
        # Sections other apps hold about the customer (complaints, …).
        **{name: section(customer, _iso) for name, section in hooks.export_sections()},
    }


def customer_export_readable(*, customer: Customer) -> dict:
    """The export for people: labels in the active language, local times (the
    template formats them in the customer's time zone)."""
    zone = customer_time_zone(customer)
    pref = preference_for(customer=customer)
    opt_out = OptOut.objects.filter(customer=customer).first()
    states = (
        ConsentState.objects.filter(customer=customer)
        .select_related("channel", "topic")
        .order_by("topic__position", "topic__code", "channel__position")
    )
    entries = HistoryEntries(customer)
    return {
        "complaints": [],  # filled by the complaints app's section, when installed
        "customer": customer,
        "time_zone": str(zone),
        "generated_at": timezone.now(),
        "contact_points": list(customer.contact_points.order_by("kind", "created_at")),
        "consents": list(states),
        "opt_out": opt_out,
        "preference": pref,
        "caps": frequency_caps_shown(customer=customer),
        "pauses": list(customer.care_pauses.all()),
        "history": history_lines(entries[: entries.count()]),
        # Sections other apps hold about the customer (complaints, …).
        **hooks.readable_export_sections(customer),
    }
