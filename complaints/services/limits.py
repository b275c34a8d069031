"""Limits on creating complaints from the public and portal paths.

A burst of form posts must not open a burst of complaints, regulatory clocks and
acknowledgement messages: a report link opens one complaint, a customer a few an
hour, an address (IP) a few more. Staff intake and sending systems are not limited
here (they have their own controls).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from consent import crypto
from consent.errors import ApplicationError
from consent.models import Customer

MSG_TOO_MANY_COMPLAINTS = _(
    "We have received several complaints from you in the last hour. Please wait a "
    "little before sending another, or call us: nothing you sent is lost."
)
LIMITED_SOURCES = (Complaint.Source.PORTAL, Complaint.Source.REPORT_LINK)
WINDOW = timedelta(hours=1)


def report_link_hash(token: str) -> str:
    """One complaint per link: the link is remembered only as a keyed hash."""
    return crypto.blind_index(f"complaint-report-link:{token}")


def complaint_for_report_link(token: str) -> Complaint | None:
    return Complaint.objects.filter(report_token_hash=report_link_hash(token)).first()


def _ip_key(ip: str) -> str:
    return f"complaints:create:ip:{crypto.blind_index(f'ip:{ip}')}"


def _ip_count(ip: str) -> int:
    return cache.get(_ip_key(ip)) or 0


def _ip_incr(ip: str) -> None:
    key, seconds = _ip_key(ip), int(WINDOW.total_seconds())
    cache.add(key, 0, seconds)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)


def complaint_create_limited(*, customer: Customer, ip: str, create, report_token=""):
    """Run ``create(report_token_hash=...)`` within the limits; returns the complaint.

    The customer's row is locked while counting, so parallel posts are counted one
    after another; a report link already used returns its complaint, also when two
    posts race (the unique key decides).
    """
    token_hash = report_link_hash(report_token) if report_token else ""
    if token_hash:
        existing = complaint_for_report_link(report_token)
        if existing is not None:
            return existing
    if _ip_count(ip) >= settings.COMPLAINT_RATE_PER_IP:
        raise ApplicationError(MSG_TOO_MANY_COMPLAINTS, code="throttled")
    try:
        with transaction.atomic():
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            recent = Complaint.objects.filter(
                customer=customer,
                source__in=LIMITED_SOURCES,
                created_at__gte=timezone.now() - WINDOW,
            ).count()
            if recent >= settings.COMPLAINT_RATE_PER_CUSTOMER:
                raise ApplicationError(MSG_TOO_MANY_COMPLAINTS, code="throttled")
            complaint = create(report_token_hash=token_hash)
    except IntegrityError:
        existing = complaint_for_report_link(report_token) if token_hash else None
        if existing is None:
            raise
        return existing
    _ip_incr(ip)
    return complaint
