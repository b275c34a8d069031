"""Reads for complaints: portal lists, staff queues, statistics and the export."""

from __future__ import annotations

import statistics as stats
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone

from backoffice.roles import AUDITOR, COMPLIANCE_OFFICER, SUPERVISOR
from complaints.models import Category, Complaint, ComplaintEvent, RootCause
from consent.models import Customer

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
    sees their own and the unassigned ones."""
    qs = Complaint.objects.all() if queryset is None else queryset
    if sees_every_complaint(user):
        return qs
    return qs.filter(Q(assignee=user) | Q(assignee__isnull=True))


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
    rows = qs.values(field).annotate(n=Count("pk")).order_by("-n", field)
    return [(labels.get(row[field], row[field] or "—"), row["n"]) for row in rows]


def complaint_statistics(
    *, date_from: date | None = None, date_to: date | None = None
) -> Statistics:
    """Figures for complaints received in [date_from, date_to] (local dates)."""
    qs = Complaint.objects.all()
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
        by_channel=_counts(qs, "channel__code", {}),
        by_product=_counts(qs, "topic__code", {}),
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


def complaint_hotspots(*, now: datetime | None = None, top: int = 3) -> list[Hotspot]:
    """The (category, channel, product) combinations most complained about in the
    last 30 days, against the 30 days before."""
    now = now or timezone.now()
    start = now - timedelta(days=30)
    before = start - timedelta(days=30)
    keys = ("category", "channel__code", "topic__code")

    def counts(lo: datetime, hi: datetime) -> dict[tuple, int]:
        rows = (
            Complaint.objects.filter(received_at__gte=lo, received_at__lt=hi)
            .values(*keys)
            .annotate(n=Count("pk"))
        )
        return {tuple(row[k] for k in keys): row["n"] for row in rows}

    current = counts(start, now)
    previous = counts(before, start)
    ranked = sorted(current.items(), key=lambda item: (-item[1], str(item[0])))[:top]
    return [
        Hotspot(
            category=key[0],
            channel=key[1] or "—",
            product=key[2] or "—",
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
    "product",
    "sub_product",
    "issue",
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


def regulator_export_rows(
    *, queryset: QuerySet[Complaint] | None = None
) -> Iterator[tuple]:
    """One row per complaint, no contact addresses or names. Product is the kind of
    topic (marketing or service), sub-product the topic; issue the category,
    sub-issue the root cause."""
    qs = (
        (queryset if queryset is not None else Complaint.objects.all())
        .select_related("channel", "topic")
        .order_by("received_at", "pk")
    )
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
            c.topic.kind if c.topic else "",
            c.topic.code if c.topic else "",
            c.category,
            c.root_cause,
            c.channel.code if c.channel else "",
            c.source,
            c.status,
            "" if timely is None else ("yes" if timely else "no"),
            c.outcome,
            c.root_cause,
        )


def complaint_queue_counts(*, user, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    qs = complaints_for_staff(user=user)
    return {
        "overdue": qs.overdue(now).count(),
        "due_48h": qs.due_within(48, now).count(),
        "unassigned": qs.open().filter(assignee__isnull=True).count(),
        "mine": qs.open().filter(assignee=user).count(),
    }


def complaints_resolved_late(*, queryset: QuerySet[Complaint]) -> QuerySet[Complaint]:
    return queryset.filter(decision_sent_at__gt=F("due_at"))


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
            text=classification_text(
                complaint.description, complaint.message_excerpt
            ),
            category=complaint.category,
            ref=complaint.reference or f"#{complaint.pk}",
            source="correction",
        )
        for complaint in corrected
    ]
