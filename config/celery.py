"""The Celery app. Periodic schedules live here so they are reviewed in code."""

from __future__ import annotations

import os
import sys

from celery import Celery, signals
from celery.schedules import crontab
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("consent_centre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Carries the enqueuing request's id into each task's log line.
app.steps["worker"].add(DjangoStructLogInitStep)

app.conf.beat_schedule = {
    # Signed ledger checkpoints at least once a second while writes happen.
    "seal-ledger-checkpoint": {
        "task": "consent.tasks.ledger_checkpoint_task",
        "schedule": 1.0,
    },
    "expire-unverified-addresses": {
        "task": "consent.tasks.unverified_contact_points_expire_task",
        "schedule": crontab(minute=29),
    },
    "clear-erased-identifiers": {
        "task": "consent.tasks.erased_identifiers_clear_task",
        "schedule": crontab(minute=41, hour="*/6"),
    },
    "end-expired-care-pauses": {
        "task": "preferences.tasks.care_pause_expire_task",
        "schedule": crontab(minute="*/5"),
    },
    "purge-access-log": {
        "task": "backoffice.tasks.access_log_purge_task",
        "schedule": crontab(hour=3, minute=5),
    },
    "purge-one-time-codes": {
        "task": "backoffice.tasks.one_time_code_purge_task",
        "schedule": crontab(minute=23),
    },
    "purge-sessions": {
        "task": "backoffice.tasks.session_purge_task",
        "schedule": crontab(hour=3, minute=35),
    },
    "purge-send-records": {
        "task": "consent.tasks.send_record_purge_task",
        "schedule": crontab(minute=17),
    },
    "deliver-webhooks": {
        # A safety net and the retry clock; commits are delivered at once by
        # manage.py webhook_dispatcher.
        "task": "consent.tasks.webhook_dispatch_task",
        "schedule": crontab(minute="*"),
    },
    "check-sender-lag": {
        "task": "backoffice.tasks.sender_lag_check_task",
        "schedule": crontab(minute="*"),
    },
    "alert-overdue-reply-reviews": {
        "task": "backoffice.tasks.reply_review_overdue_task",
        "schedule": crontab(minute="*/15"),
    },
    "escalate-complaints": {
        "task": "complaints.tasks.complaint_escalate_task",
        "schedule": crontab(minute="*/15"),
    },
}


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_production(**kwargs) -> None:
    import django

    django.setup()
    from django.core.exceptions import ImproperlyConfigured

    from config.checks import refuse_unsafe_production

    try:
        refuse_unsafe_production()
    except ImproperlyConfigured as exc:
        # Celery logs and ignores exceptions raised by signal handlers.
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(78) from exc  # EX_CONFIG
