"""Signed links that confirm an address (double opt-in) without signing in.

Whoever opens the link received the message at that address, which is the proof a
code gives. A token carries the contact point's id, the start of its blind index and
the time it was issued, signed under its own salt: it cannot be re-aimed at another
address, and a link sent before the address was removed and added again is void.
It is valid as long as an unconfirmed address is kept (``UNVERIFIED_CONTACT_DAYS``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from consent.models import ContactPoint, Customer

SALT = "preferences.contact-confirm.v1"


class InvalidConfirmLink(Exception):
    """Tampered with, expired, or the address is gone or already confirmed."""


def _max_age() -> timedelta:
    return timedelta(days=settings.UNVERIFIED_CONTACT_DAYS)


def confirm_token(contact_point: ContactPoint) -> str:
    return signing.dumps(
        {
            "cp": contact_point.pk,
            "bi": contact_point.blind_index[:16],
            "at": int(time.time()),
        },
        salt=SALT,
        compress=True,
    )


def confirm_url(contact_point: ContactPoint) -> str:
    path = reverse(
        "portal:contact_confirm", kwargs={"token": confirm_token(contact_point)}
    )
    return settings.SITE_BASE_URL.rstrip("/") + path


def confirm_target(token: str) -> ContactPoint:
    """The unconfirmed, live address the token names; InvalidConfirmLink otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=_max_age())
        pk, prefix, issued = int(data["cp"]), str(data["bi"]), int(data["at"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidConfirmLink from exc
    point = (
        ContactPoint.objects.select_related("customer")
        .filter(
            pk=pk,
            removed_at__isnull=True,
            verified_at__isnull=True,
            customer__status=Customer.Status.ACTIVE,
        )
        .first()
    )
    if (
        point is None
        or point.status != ContactPoint.Status.ACTIVE
        or not point.blind_index.startswith(prefix)
        # Issued before the address was (re-)added: meant for an earlier holder.
        or datetime.fromtimestamp(issued + 1, tz=UTC) < point.created_at
    ):
        raise InvalidConfirmLink
    return point
