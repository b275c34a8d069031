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
    """Look the address up and send a sign-in code if a verified, active address
    matches. ``value`` is the address encrypted, so the broker never holds it in
    clear."""
    from consent import crypto
    from consent.errors import ApplicationError
    from preferences.services import CodeTarget, sign_in_start

    target = CodeTarget(kind=kind, normalised=crypto.decrypt(value))
    try:
        sign_in_start(target=target, ip=ip)
    except ApplicationError:
        # Over the hourly limit since the page checked: nothing is sent, as the page
        # said nothing either way.
        return
