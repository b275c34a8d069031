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


@shared_task(ignore_result=True)
def ledger_checkpoint_task() -> None:
    """Seal the ledger's latest position into a signed checkpoint (beat: 1 s)."""
    from consent.checkpoints import checkpoint_seal

    checkpoint_seal()


@shared_task
def unverified_contact_points_expire_task() -> int:
    """Remove addresses nobody confirmed within the allowed days."""
    from consent.services import contact_points_unverified_expire

    return contact_points_unverified_expire()


@shared_task(acks_late=True)
def webhook_deliver_task(endpoint_id: int) -> int:
    """Deliver what is due to one webhook; returns the rows delivered."""
    from consent.webhooks import webhook_deliver, webhook_dispatch_mark_started

    webhook_dispatch_mark_started(endpoint_id)
    return webhook_deliver(endpoint_id=endpoint_id).rows


@shared_task
def webhook_dispatch_task() -> int:
    """Queue deliveries for every webhook with rows due (retries included)."""
    from consent.webhooks import webhook_dispatch

    return webhook_dispatch()
