"""Periodic retention tasks (scheduled in config/celery.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def access_log_purge_task() -> int:
    from backoffice.retention import access_log_purge

    return access_log_purge()


@shared_task
def one_time_code_purge_task() -> int:
    from backoffice.retention import one_time_code_purge

    return one_time_code_purge()


@shared_task
def session_purge_task() -> None:
    from backoffice.retention import session_purge

    session_purge()


@shared_task
def sender_lag_check_task() -> int:
    """Alert compliance officers about sending systems that stopped reading."""
    from backoffice.sender_alerts import sender_stale_check

    return len(sender_stale_check())


@shared_task
def reply_review_overdue_task() -> int:
    """Alert owners and compliance officers about overdue reply reviews."""
    from backoffice.reply_reviews import reply_reviews_overdue_alert

    return len(reply_reviews_overdue_alert())
