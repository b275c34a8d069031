"""Readable, translated names for the codes complaints carry (channels, products)."""

from __future__ import annotations

from consent.models import Channel, Topic


def channel_labels() -> dict[str, str]:
    """Channel code -> name in the active language."""
    return {c.code: c.label for c in Channel.objects.all()}


def topic_labels() -> dict[str, str]:
    """Topic (product) code -> name in the active language."""
    return {t.code: t.label for t in Topic.objects.all()}


def label_with_code(obj) -> str:
    """For pickers where staff may know the code too: "信用卡 (credit_card)"."""
    return f"{obj.label} ({obj.code})"
