"""Reads for the portal pages, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import get_language
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
    Topic,
)
from preferences.models import CarePause, ErasureRequest, FrequencyCap, Preference


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
class PreferenceMatrix:
    channels: list[Channel]
    topics: list[Topic]
    service_topics: list[Topic]
    rows: list[MatrixRow]
    opt_out: OptOut | None
    notice: NoticeVersion | None

    @property
    def shown_on(self) -> list[str]:
        return [cell.value for row in self.rows for cell in row.cells if cell.on]

    @property
    def granted_count(self) -> int:
        return len(self.shown_on)


def preference_matrix(*, customer: Customer) -> PreferenceMatrix:
    """Channels × marketing topics with the customer's current consent: four queries
    whatever the size of the catalogue."""
    channels = list(Channel.objects.filter(is_active=True))
    all_topics = list(Topic.objects.filter(is_active=True))
    granted = set(
        ConsentState.objects.granted()
        .filter(customer=customer)
        .values_list("channel_id", "topic_id")
    )
    opt_out = OptOut.objects.filter(customer=customer).first()
    topics = [t for t in all_topics if t.is_marketing]
    rows = [
        MatrixRow(
            topic=topic,
            cells=[
                MatrixCell(channel, topic, (channel.pk, topic.pk) in granted)
                for channel in channels
            ],
        )
        for topic in topics
    ]
    return PreferenceMatrix(
        channels=channels,
        topics=topics,
        service_topics=[t for t in all_topics if not t.is_marketing],
        rows=rows,
        opt_out=opt_out,
        notice=notice_current(),
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


def describe_event(event: ConsentEvent) -> str:
    """The event in plain words, for the customer's own history."""
    channel = event.channel.label if event.channel_id else None
    topic = event.topic.label if event.topic_id else None
    address = event.contact_point.masked if event.contact_point_id else ""
    words = {"channel": channel, "topic": topic, "address": address}
    action = event.action
    if action == ConsentEvent.Action.GRANT:
        return _("Agreed to receive %(topic)s offers by %(channel)s") % words
    if action == ConsentEvent.Action.WITHDRAW:
        if channel and topic:
            return _("Stopped %(topic)s offers by %(channel)s") % words
        if channel:
            return _("Stopped all marketing by %(channel)s") % words
        if topic:
            return _("Stopped %(topic)s offers on every channel") % words
        return _("Withdrew every marketing consent")
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
    text = texts.get(action, event.get_action_display())
    return text % words if "%(" in text else text


@dataclass(frozen=True)
class HistoryLine:
    when: object
    what: str
    who: str
    how: str
    wording: str


def history_lines(events) -> list[HistoryLine]:
    return [
        HistoryLine(
            when=event.occurred_at,
            what=describe_event(event),
            who=_who(event.actor),
            how=event.get_source_display(),
            wording=(
                f"{event.notice_version.title} v{event.notice_version.version}"
                if event.notice_version_id
                else ""
            ),
        )
        for event in events
    ]


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def customer_export(*, customer: Customer) -> dict:
    """Everything held about the customer, with addresses masked (PIPL art. 45)."""
    pref = preference_for(customer=customer)
    opt_out = OptOut.objects.filter(customer=customer).first()
    return {
        "generated_at": timezone.now().isoformat(),
        "customer": {
            "reference": customer.external_ref,
            "name": customer.display_name,
            "preferred_language": customer.preferred_language,
            "status": customer.status,
        },
        "contact_points": [
            {
                "kind": cp.kind,
                "address": cp.masked,
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
            "preferred_channel": (
                pref.preferred_channel.code if pref.preferred_channel_id else None
            ),
            "personalisation_allowed": pref.personalisation_allowed,
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
        **{name: section(customer) for name, section in hooks.export_sections()},
    }
