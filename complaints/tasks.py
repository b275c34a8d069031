"""Celery tasks: they take ids and call services."""

from __future__ import annotations

from celery import shared_task


@shared_task
def complaint_acknowledge_task(complaint_id: int) -> None:
    from complaints.models import Complaint
    from complaints.services import complaint_acknowledge
    from consent.ledger import Actor

    complaint = Complaint.objects.filter(pk=complaint_id).first()
    if complaint is not None:
        complaint_acknowledge(
            complaint=complaint, actor=Actor.system("acknowledgement")
        )


@shared_task
def complaint_message_sent_task(message_id: int) -> None:
    """Runs after the sender accepted the message: store the proof of sending."""
    from complaints.services import complaint_message_mark_sent

    complaint_message_mark_sent(message_id=message_id)


@shared_task
def complaint_escalate_task() -> int:
    """Beat: flag complaints due soon, at T-n days and overdue (idempotent)."""
    from complaints.services import complaint_escalations_run
    from complaints.services.rights import rights_requests_overdue_run

    return len(complaint_escalations_run()) + len(rights_requests_overdue_run())
