"""The Celery app. Periodic schedules live here so they are reviewed in code."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("consent_centre")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "end-expired-care-pauses": {
        "task": "preferences.tasks.care_pause_expire_task",
        "schedule": crontab(minute="*/5"),
    },
}
