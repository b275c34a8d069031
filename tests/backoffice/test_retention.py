"""Retention purges remove what is past its period and never touch the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from backoffice import tasks
from backoffice.audit import access_log_record
from backoffice.models import AccessLog
from backoffice.roles import AUDITOR
from config.celery import app as celery_app
from consent.models import ConsentEvent
from preferences.models import OneTimeCode

pytestmark = pytest.mark.django_db


def test_old_access_log_entries_are_purged_and_the_ledger_kept(
    staff_user, settings, phone_point
):
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    user = staff_user(AUDITOR)
    now = timezone.now()
    old = access_log_record(user=user, action="view", at=now - timedelta(days=31))
    recent = access_log_record(user=user, action="view", at=now - timedelta(days=29))
    ledger = ConsentEvent.objects.count()
    assert ledger > 0

    assert tasks.access_log_purge_task.delay().get() == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AccessLog.objects.filter(pk=old.pk).exists()
    assert ConsentEvent.objects.count() == ledger


def test_expired_one_time_codes_are_purged(settings):
    settings.ONE_TIME_CODE_RETENTION_HOURS = 24
    now = timezone.now()

    def code(expired_hours_ago: float) -> OneTimeCode:
        return OneTimeCode.objects.create(
            purpose=OneTimeCode.Purpose.SIGN_IN,
            blind_index="x" * 64,
            code_hash="y" * 64,
            expires_at=now - timedelta(hours=expired_hours_ago),
        )

    stale, fresh, live = code(25), code(2), code(-0.1)
    assert tasks.one_time_code_purge_task.delay().get() == 1
    assert set(OneTimeCode.objects.values_list("pk", flat=True)) == {fresh.pk, live.pk}
    assert not OneTimeCode.objects.filter(pk=stale.pk).exists()


def test_expired_sessions_are_purged():
    live = SessionStore()
    live["x"] = 1
    live.create()
    dead = SessionStore()
    dead["x"] = 1
    dead.create()
    Session.objects.filter(session_key=dead.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    tasks.session_purge_task.delay().get()
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        live.session_key
    ]


def test_purges_are_scheduled():
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {
        "backoffice.tasks.access_log_purge_task",
        "backoffice.tasks.one_time_code_purge_task",
        "backoffice.tasks.session_purge_task",
    } <= scheduled
