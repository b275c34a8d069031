"""Signed "report this message" links: one click from a message to a short form.

The token carries the customer id, the channel and the topic, signed with its own
salt so it cannot be swapped with another signed link of the site.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from consent.models import Channel, Customer, Topic

SALT = "complaints.report-link"
MAX_AGE = 60 * 60 * 24 * 180  # a message may be read months later


@dataclass(frozen=True)
class ReportTarget:
    customer: Customer
    channel: Channel
    topic: Topic | None


def report_token(*, customer: Customer, channel: Channel, topic: Topic | None) -> str:
    return signing.dumps(
        {"c": customer.pk, "ch": channel.code, "t": topic.code if topic else None},
        salt=SALT,
        compress=True,
    )


def report_url(*, customer: Customer, channel: Channel, topic: Topic | None) -> str:
    """The absolute link to put in a message."""
    token = report_token(customer=customer, channel=channel, topic=topic)
    path = reverse("complaints:report", args=[token])
    return settings.SITE_BASE_URL.rstrip("/") + path


def report_target(token: str) -> ReportTarget | None:
    """What a token points to, or None if it is forged, expired or stale."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    customer = Customer.objects.filter(
        pk=data.get("c"), status=Customer.Status.ACTIVE
    ).first()
    channel = Channel.objects.filter(code=data.get("ch")).first()
    if customer is None or channel is None:
        return None
    topic = Topic.objects.filter(code=data["t"]).first() if data.get("t") else None
    return ReportTarget(customer=customer, channel=channel, topic=topic)
