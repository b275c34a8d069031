"""Celery tasks of the portal: thin, they call services."""

from __future__ import annotations

from celery import shared_task


@shared_task
def care_pause_expire_task() -> int:
    """Publish the end of care pauses that ran out (beat, every five minutes)."""
    from preferences.services import care_pause_expire_due

    return care_pause_expire_due()
