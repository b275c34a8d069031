from __future__ import annotations

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_message_task(
    *, to: str, kind: str, subject: str, body: str, purpose: str = ""
) -> None:
    from consent.messaging import send_message

    send_message(to=to, kind=kind, subject=subject, body=body, purpose=purpose)


@shared_task
def send_record_purge_task() -> int:
    """Drop send records older than the frequency window (minimum data)."""
    from consent.inbound import send_record_purge

    return send_record_purge()


@shared_task
def erased_identifiers_clear_task() -> int:
    """Drop published identifiers of erased customers after the grace period."""
    from consent.erasure import erased_identifiers_clear

    return erased_identifiers_clear()
