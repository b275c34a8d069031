"""Celery tasks of the portal: thin, they call services."""

from __future__ import annotations

from celery import shared_task


@shared_task
def care_pause_expire_task() -> int:
    """Publish the end of care pauses that ran out (beat, every five minutes)."""
    from preferences.services import care_pause_expire_due

    return care_pause_expire_due()


@shared_task
def sign_in_code_task(*, kind: str, value: str, ip: str) -> None:
    """Look the address up and send a sign-in code if it may sign in. ``value`` is
    the address encrypted, so the broker never holds it in clear."""
    from preferences.portal_actions import sign_in_code_send

    sign_in_code_send(kind=kind, value=value, ip=ip)
