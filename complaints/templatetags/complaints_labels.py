"""Names instead of codes in templates: ``{{ item.channel|channel_name }}``."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from complaints import labels

register = template.Library()


@register.filter
def channel_name(code: str) -> str:
    if code in (None, "", "all"):
        return gettext("all")
    return labels.channel_labels().get(code, code)


@register.filter
def topic_name(code: str) -> str:
    if code in (None, "", "all"):
        return gettext("all")
    return labels.topic_labels().get(code, code)
