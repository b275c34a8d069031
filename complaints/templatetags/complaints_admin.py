"""Admin banner: warn staff when a holiday calendar runs out within the horizon."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from complaints.calendars import calendar_gaps

register = template.Library()


@register.inclusion_tag("admin/complaints/calendar_warning.html")
def calendar_warning() -> dict:
    gaps = calendar_gaps()
    try:
        url = reverse("admin:complaints_calendar_changelist")
    except NoReverseMatch:
        url = ""
    return {"gaps": gaps, "calendars_url": url}
