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
