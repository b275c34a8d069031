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
