"""Signed one-click unsubscribe links (RFC 8058) that need no sign-in.

A token carries only ids (customer primary key, channel and topic codes), signed
with the site secret under its own salt, so it cannot be forged or re-aimed and shows
no personal data. Links stay valid for a long time because messages are read late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse

from consent.models import Channel, Customer, Topic

SALT = "consent.links.unsubscribe.v1"
UNDO_SALT = "consent.links.unsubscribe-undo.v1"
MAX_AGE = timedelta(days=400)
UNDO_MAX_AGE = timedelta(days=7)


class InvalidLink(Exception):
    """The token was tampered with, expired, or names something now gone."""


@dataclass(frozen=True)
class UnsubscribeTarget:
    customer: Customer
    channel: Channel
    topic: Topic


def unsubscribe_token(*, customer: Customer, channel: Channel, topic: Topic) -> str:
    return signing.dumps(
        {"c": customer.pk, "ch": channel.code, "t": topic.code},
        salt=SALT,
        compress=True,
    )


def unsubscribe_path(*, customer: Customer, channel: Channel, topic: Topic) -> str:
    token = unsubscribe_token(customer=customer, channel=channel, topic=topic)
    return reverse("portal:unsubscribe", kwargs={"token": token})


def unsubscribe_url(*, customer: Customer, channel: Channel, topic: Topic) -> str:
    """The absolute link a sending system puts in a message and its List-Unsubscribe
    header."""
    base = settings.SITE_BASE_URL.rstrip("/")
    return base + unsubscribe_path(customer=customer, channel=channel, topic=topic)


def _resolve(data: object) -> UnsubscribeTarget:
    if not isinstance(data, dict):
        raise InvalidLink
    customer = Customer.objects.filter(pk=data.get("c")).first()
    channel = Channel.objects.filter(code=data.get("ch")).first()
    topic = Topic.objects.filter(code=data.get("t")).first()
    if customer is None or channel is None or topic is None or not topic.is_marketing:
        raise InvalidLink
    return UnsubscribeTarget(customer=customer, channel=channel, topic=topic)


def unsubscribe_target(token: str) -> UnsubscribeTarget:
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
        return _resolve(data)
    except (signing.BadSignature, ValueError, TypeError, ValidationError) as exc:
        raise InvalidLink from exc


def undo_token(*, token: str, event_seq: int) -> str:
    """A short-lived token that lets the same browser restore what it just withdrew."""
    return signing.dumps({"u": token, "e": event_seq}, salt=UNDO_SALT, compress=True)


def undo_target(undo: str) -> tuple[UnsubscribeTarget, int]:
    try:
        data = signing.loads(undo, salt=UNDO_SALT, max_age=UNDO_MAX_AGE)
        return unsubscribe_target(data["u"]), int(data["e"])
    except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
        raise InvalidLink from exc
