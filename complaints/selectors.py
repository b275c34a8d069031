"""Reads for complaints: portal lists, staff queues, statistics and the export."""

from __future__ import annotations

import re
import statistics as stats
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext

from backoffice.roles import (
    AUDITOR,
    COMPLAINT_HANDLER,
    COMPLAINT_REVIEWER,
    COMPLIANCE_OFFICER,
    SUPERVISOR,
    user_has_role,
)
from complaints import labels
from complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintReview,
    RegulatorCode,
    RootCause,
)
from consent.identifiers import AddressKind, guess_kind, normalise
from consent.models import ContactPoint, Customer

if TYPE_CHECKING:
    from complaints.category_model import Example


def complaints_for_customer(*, customer: Customer) -> QuerySet[Complaint]:
    return (
        Complaint.objects.visible_to_customer(customer)
        .select_related("channel", "topic")
        .order_by("-received_at")
    )


def complaint_for_customer(*, customer: Customer, reference: str) -> Complaint:
    """The customer's own complaint, or 404 (never another customer's)."""
    return get_object_or_404(
        Complaint.objects.select_related("channel", "topic", "customer"),
        customer=customer,
        reference=reference,
    )


def sees_every_complaint(user) -> bool:
    if user.is_superuser:
        return True
    names = set(user.groups.values_list("name", flat=True))
    return bool(names & {SUPERVISOR, COMPLIANCE_OFFICER, AUDITOR})


def complaints_for_staff(
    *, user, queryset: QuerySet[Complaint] | None = None
) -> QuerySet[Complaint]:
    """Supervisors, compliance officers and auditors see every complaint; a handler
    sees their own and the unassigned ones; a reviewer the ones whose review they
    hold."""
    qs = Complaint.objects.all() if queryset is None else queryset
    if sees_every_complaint(user):
        return qs
    reviewing = ComplaintReview.objects.filter(complaint=OuterRef("pk"), reviewer=user)
    if user_has_role(user, COMPLAINT_REVIEWER) and not user_has_role(
        user, COMPLAINT_HANDLER
    ):
        return qs.filter(Exists(reviewing))
    return qs.filter(Q(assignee=user) | Q(assignee__isnull=True) | Exists(reviewing))


# --- statistics -----------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    total: int
    by_category: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    by_product: list[tuple[str, int]]
    by_root_cause: list[tuple[str, int]]
    by_week: list[tuple[date, int]]
    decided: int
    median_days_to_resolve: float | None
    in_time: int
    share_in_time: float | None
    rated: int
    satisfaction_mean: float | None
    satisfaction_counts: list[tuple[int, int]]


def _counts(qs: QuerySet, field: str, labels: dict[str, str]) -> list[tuple[str, int]]:
    rows = qs.order_by().values(field).annotate(n=Count("pk")).order_by("-n", field)
    return [(labels.get(row[field], row[field] or "—"), row["n"]) for row in rows]


def complaint_statistics(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    queryset: QuerySet[Complaint] | None = None,
) -> Statistics:
    """Figures for complaints received in [date_from, date_to] (local dates), within
    ``queryset`` (the staff member's scope) when given."""
    qs = Complaint.objects.all() if queryset is None else queryset
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(
            received_at__gte=datetime.combine(date_from, datetime.min.time(), tz)
        )
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tz)
        qs = qs.filter(received_at__lt=end)
    weeks = (
        qs.annotate(week=TruncWeek("received_at"))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by("week")
    )
    decided = list(
        qs.filter(decided_at__isnull=False).values_list(
            "received_at", "decided_at", "decision_sent_at", "due_at"
        )
    )
    days = [(d - r).total_seconds() / 86400 for r, d, _s, _due in decided]
    in_time = sum(1 for _r, _d, sent, due in decided if sent and due and sent <= due)
    ratings = list(
        qs.filter(satisfaction__isnull=False).values_list("satisfaction", flat=True)
    )
    rating_counts = Counter(ratings)
    return Statistics(
        total=qs.count(),
        by_category=_counts(qs, "category", dict(Category.choices)),
        by_channel=_counts(qs, "channel__code", labels.channel_labels()),
        by_product=_counts(qs, "topic__code", labels.topic_labels()),
        by_root_cause=_counts(
            qs.exclude(root_cause=""), "root_cause", dict(RootCause.choices)
        ),
        by_week=[(row["week"].date(), row["n"]) for row in weeks if row["week"]],
        decided=len(decided),
        median_days_to_resolve=round(stats.median(days), 1) if days else None,
        in_time=in_time,
        share_in_time=round(in_time / len(decided), 3) if decided else None,
        rated=len(ratings),
        satisfaction_mean=round(stats.mean(ratings), 2) if ratings else None,
        satisfaction_counts=[
            (score, rating_counts.get(score, 0)) for score in range(1, 6)
        ],
    )


@dataclass(frozen=True)
class Hotspot:
    category: str
    channel: str
    product: str
    current: int
    previous: int

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def change(self) -> int:
        return self.current - self.previous


def complaint_hotspots(
    *,
    now: datetime | None = None,
    top: int = 3,
    queryset: QuerySet[Complaint] | None = None,
) -> list[Hotspot]:
    """The (category, channel, product) combinations most complained about in the
    last 30 days, against the 30 days before, within ``queryset`` when given."""
    now = now or timezone.now()
    base = Complaint.objects.all() if queryset is None else queryset
    start = now - timedelta(days=30)
    before = start - timedelta(days=30)
    keys = ("category", "channel__code", "topic__code")

    def counts(lo: datetime, hi: datetime) -> dict[tuple, int]:
        rows = (
            base.filter(received_at__gte=lo, received_at__lt=hi)
            .order_by()
            .values(*keys)
            .annotate(n=Count("pk"))
        )
        return {tuple(row[k] for k in keys): row["n"] for row in rows}

    current = counts(start, now)
    previous = counts(before, start)
    ranked = sorted(current.items(), key=lambda item: (-item[1], str(item[0])))[:top]
    channel_names, topic_names = labels.channel_labels(), labels.topic_labels()
    return [
        Hotspot(
            category=key[0],
            channel=channel_names.get(key[1], key[1]) or "—",
            product=topic_names.get(key[2], key[2]) or "—",
            current=n,
            previous=previous.get(key, 0),
        )
        for key, n in ranked
    ]


# --- regulator export ---------------------------------------------------------------

EXPORT_HEADER = (
    "reference",
    "received_date",
    "acknowledged_date",
    "due_date",
    "decision_sent_date",
    "closed_date",
    "identity_verification",
    "product_code",
    "product",
    "sub_product_code",
    "sub_product",
    "issue_code",
    "issue",
    "sub_issue_code",
    "sub_issue",
    "channel",
    "source",
    "status",
    "timely",
    "outcome",
    "root_cause",
)


def _day(value: datetime | None) -> str:
    return timezone.localtime(value).date().isoformat() if value else ""


def regulator_codes() -> dict[tuple[str, str], RegulatorCode]:
    return {(rc.dimension, rc.value): rc for rc in RegulatorCode.objects.all()}


def regulator_export_rows(
    *, queryset: QuerySet[Complaint] | None = None
) -> Iterator[tuple]:
    """One row per complaint, no contact addresses or names. Product, sub-product,
    issue and sub-issue carry the regulator's codes from the mapping table (topic
    kind, topic, category, root cause) beside their labels; other columns are
    readable labels in the active language."""
    qs = (
        (queryset if queryset is not None else Complaint.objects.all())
        .select_related("channel", "topic")
        .order_by("received_at", "pk")
    )
    codes = regulator_codes()
    D = RegulatorCode.Dimension

    def coded(dimension: str, value: str) -> tuple[str, str]:
        found = codes.get((dimension, value))
        return (found.code, found.label) if found else ("", "")

    yield EXPORT_HEADER
    for c in qs.iterator(chunk_size=1000):
        timely = c.resolved_in_time
        yield (
            c.reference,
            _day(c.received_at),
            _day(c.acknowledged_at),
            _day(c.due_at),
            _day(c.decision_sent_at),
            _day(c.closed_at),
            c.get_identity_verification_display(),
            *coded(D.PRODUCT, c.topic.kind if c.topic else ""),
            *coded(D.SUB_PRODUCT, c.topic.code if c.topic else ""),
            *coded(D.ISSUE, c.category),
            *coded(D.SUB_ISSUE, c.root_cause),
            c.channel.label if c.channel else "",
            c.get_source_display(),
            c.get_status_display(),
            "" if timely is None else (gettext("yes") if timely else gettext("no")),
            c.get_outcome_display(),
            c.get_root_cause_display(),
        )


def complaint_queue_counts(*, user, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    qs = complaints_for_staff(user=user)
    return {
        "overdue": qs.overdue(now).count(),
        "due_soon": qs.due_within(now=now).count(),
        "unassigned": qs.open().filter(assignee__isnull=True).count(),
        "mine": qs.open().filter(assignee=user).count(),
    }


def complaints_resolved_late(*, queryset: QuerySet[Complaint]) -> QuerySet[Complaint]:
    return queryset.filter(decision_sent_at__gt=F("due_at"))


def protection_text(applied: list[dict]) -> str:
    """What intake stopped, in words and names (not codes)."""
    from django.utils.translation import gettext

    channel_names, topic_names = labels.channel_labels(), labels.topic_labels()
    everything = gettext("all")
    parts = []
    for item in applied or []:
        if item.get("action") == "withdraw":
            channel = item.get("channel", "all")
            topic = item.get("topic", "all")
            parts.append(
                gettext("Marketing withdrawn: channel %(channel)s, product %(topic)s")
                % {
                    "channel": everything
                    if channel == "all"
                    else channel_names.get(channel, channel),
                    "topic": everything
                    if topic == "all"
                    else topic_names.get(topic, topic),
                }
            )
        elif item.get("action") == "not_me":
            parts.append(
                gettext("Contact point %(address)s marked not me")
                % {"address": item.get("contact_point", "")}
            )
    return "; ".join(parts)


# --- remediation ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemediationReport:
    month: date
    total: int
    top_causes: list[tuple[str, int]]
    open: list[Complaint]
    overdue: list[Complaint]


def remediation_report(
    *, month: date, queryset: QuerySet[Complaint] | None = None, top: int = 5
) -> RemediationReport:
    """The month's top root causes (complaints received in it), and every
    remediation still open, with those past their due date."""
    qs = Complaint.objects.all() if queryset is None else queryset
    tz = timezone.get_current_timezone()
    start = datetime.combine(month.replace(day=1), datetime.min.time(), tz)
    next_month = (month.replace(day=1) + timedelta(days=32)).replace(day=1)
    end = datetime.combine(next_month, datetime.min.time(), tz)
    in_month = qs.filter(received_at__gte=start, received_at__lt=end)
    causes = dict(RootCause.choices)
    rows = (
        in_month.exclude(root_cause="")
        .order_by()
        .values("root_cause")
        .annotate(n=Count("pk"))
        .order_by("-n", "root_cause")[:top]
    )
    still_open = list(
        qs.exclude(remediation_action="")
        .filter(remediation_done_on__isnull=True)
        .select_related("assignee")
        .order_by("remediation_due_on", "pk")
    )
    today = timezone.localdate()
    return RemediationReport(
        month=month.replace(day=1),
        total=in_month.count(),
        top_causes=[
            (causes.get(r["root_cause"], r["root_cause"]), r["n"]) for r in rows
        ],
        open=still_open,
        overdue=[
            c
            for c in still_open
            if c.remediation_due_on is not None and c.remediation_due_on < today
        ],
    )


# --- search ---------------------------------------------------------------------------

_REFERENCE = re.compile(r"^CMP-\d{4}-\d+$", re.IGNORECASE)


def _identifier_index(term: str) -> tuple[str, str] | None:
    """(kind, blind index) when the term is a phone number or an e-mail address."""
    kind = guess_kind(term)
    if kind == AddressKind.PHONE and (
        sum(ch.isdigit() for ch in term) < 7 or re.search(r"[^\W\d_]", term)
    ):
        return None  # letters: a word or a reference, not a number
    try:
        normalised = normalise(kind, term)
    except ValidationError:
        return None
    return kind, ContactPoint.index_for(kind, normalised)


def complaint_search(
    *, queryset: QuerySet[Complaint], terms: str
) -> QuerySet[Complaint]:
    """Complaints matching a reference, a customer reference, a phone number or an
    e-mail address (through the blind index: clear values are never compared), or
    containing every word in their description."""
    terms = " ".join(terms.replace("\x00", " ").split())
    if not terms:
        return queryset
    if _REFERENCE.match(terms):
        return queryset.filter(reference__iexact=terms)
    found = _identifier_index(terms)
    if found is not None:
        # An address is looked up by its keyed hash only; the clear value goes
        # into no query (and no text match on descriptions).
        _kind, index = found
        holders = ContactPoint.objects.filter(blind_index=index).values("customer_id")
        return queryset.filter(
            Q(customer_id__in=holders)
            | Q(contact_point__blind_index=index)
            | Q(contact_blind_index=index)
        )
    match = Q(customer__external_ref=terms)
    words = terms.split()
    if words:
        every_word = Q()
        for word in words:
            every_word &= Q(description__icontains=word)
        match |= every_word
    return queryset.filter(match)


# --- the complainant's records, for handlers ------------------------------------------


@dataclass(frozen=True)
class CustomerRecords:
    """What a handler needs to check "you called me after I said stop": the
    customer's addresses (masked), consent states, ledger, feed, violations and
    recorded sends, newest first."""

    customer: Customer
    contact_points: list
    states: list
    ledger: list
    feed: list
    violations: list
    sends: list


def complaint_customer_records(
    *, customer: Customer, limit: int = 50
) -> CustomerRecords:
    from consent.models import (
        ConsentEvent,
        ConsentState,
        SendRecord,
        SuppressionChange,
        Violation,
    )

    points = list(customer.contact_points.order_by("kind", "pk"))
    indexes = [cp.blind_index for cp in points]
    return CustomerRecords(
        customer=customer,
        contact_points=points,
        states=list(
            ConsentState.objects.filter(customer=customer)
            .select_related("channel", "topic")
            .order_by("channel__position", "topic__position")
        ),
        ledger=list(
            ConsentEvent.objects.filter(customer=customer)
            .select_related("channel", "topic", "contact_point")
            .order_by("-seq")[:limit]
        ),
        feed=list(
            SuppressionChange.objects.filter(key__blind_index__in=indexes)
            .select_related("channel")
            .order_by("-seq")[:limit]
        ),
        violations=list(
            Violation.objects.filter(blind_index__in=indexes)
            .select_related("channel", "topic", "client")
            .order_by("-sent_at")[:limit]
        ),
        sends=list(
            SendRecord.objects.filter(blind_index__in=indexes)
            .select_related("channel", "topic", "client")
            .order_by("-sent_at")[:limit]
        ),
    )


def complaints_readable(customer) -> list[Complaint]:
    """The customer's complaints for the export for people, oldest first."""
    return list(
        Complaint.objects.filter(customer=customer)
        .select_related("channel", "topic")
        .order_by("received_at")
    )


def complaints_for_export(customer, iso=None) -> list[dict]:
    """The customer's complaints for their data export (PIPL art. 45); ``iso``
    formats times (the export's, in the customer's time zone)."""
    fields = {f.name for f in Complaint._meta.get_fields()}
    if "customer" not in fields:
        return []
    wanted = [
        name
        for name in (
            "reference",
            "status",
            "category",
            "description",
            "received_at",
            "outcome",
            "findings",
            "reasons",
            "satisfaction",
        )
        if name in fields
    ]
    rows = []
    for complaint in Complaint.objects.filter(customer=customer).order_by("pk"):
        row = {}
        for name in wanted:
            value = getattr(complaint, name)
            if hasattr(value, "isoformat"):
                value = iso(value) if iso else value.isoformat()
            row[name] = value if value is None or isinstance(value, int) else str(value)
        rows.append(row)
    return rows


def category_corrections() -> list[Example]:
    """Complaints whose category a handler corrected, as training examples: the text
    the suggestion was made from, labelled with the category the complaint has now
    (the last correction wins). Oldest first, so retraining is repeatable."""
    from complaints.category_model import Example
    from complaints.classification import classification_text

    corrected = (
        Complaint.objects.filter(events__kind=ComplaintEvent.Kind.CATEGORY)
        .distinct()
        .order_by("received_at", "pk")
        .only("reference", "description", "message_excerpt", "category")
    )
    return [
        Example(
            text=classification_text(complaint.description, complaint.message_excerpt),
            category=complaint.category,
            ref=complaint.reference or f"#{complaint.pk}",
            source="correction",
        )
        for complaint in corrected
    ]
