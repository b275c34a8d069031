"""Template helpers for the portal layout (no database queries)."""

from __future__ import annotations

from django import template

from preferences.auth import SESSION_KEY

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_signed_in(context) -> bool:
    request = context.get("request")
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(SESSION_KEY))


@register.simple_tag
def protection_lines(protection: list[dict]) -> list[str]:
    """What a complaint stopped at once, in words with translated labels (the
    complaint stores codes)."""
    from django.utils.translation import gettext as _

    from consent.models import Channel, Topic
    from preferences.selectors import describe_withdrawal

    items = [item for item in protection or [] if item.get("action") != "none"]
    codes = {item.get("channel") for item in items} | {
        item.get("topic") for item in items
    }
    channels = {c.code: c.label for c in Channel.objects.filter(code__in=codes)}
    topics = {t.code: t.label for t in Topic.objects.filter(code__in=codes)}
    lines = []
    for item in items:
        if item["action"] == "withdraw":
            lines.append(
                describe_withdrawal(
                    channel=channels.get(item.get("channel")),
                    topic=topics.get(item.get("topic")),
                )
            )
        elif item["action"] == "not_me":
            lines.append(
                _("%(address)s marked as not yours: nothing more is sent to it")
                % {"address": item.get("contact_point", "")}
            )
    return lines


@register.filter
def html_lang(language: str) -> str:
    """A stored language code as an HTML ``lang`` value (``zh-hans`` → ``zh-Hans``)."""
    return "zh-Hans" if (language or "").lower().startswith("zh") else "en"
