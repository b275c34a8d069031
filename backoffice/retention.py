"""Retention: personal data kept only for its period, evidence kept for good.

The consent ledger and the suppression feed are never purged: they are the proof of
every consent and refusal. Send records are purged by the events module.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.models import AccessLog


@transaction.atomic
def access_log_purge(*, now=None) -> int:
    """Delete access log entries older than ``ACCESS_LOG_RETENTION_DAYS``."""
    days = getattr(settings, "ACCESS_LOG_RETENTION_DAYS", 730)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # A queryset delete: the model's own delete() refuses, as the log is append-only
    # for everyone but retention.
    count, _detail = AccessLog.objects.filter(at__lt=cutoff).delete()
    return count


@transaction.atomic
def one_time_code_purge(*, now=None) -> int:
    """Delete one-time codes that expired more than ``ONE_TIME_CODE_RETENTION_HOURS``
    ago (recent ones still count for sign-in throttling)."""
    if not apps.is_installed("preferences"):
        return 0
    try:
        model = apps.get_model("preferences", "OneTimeCode")
    except LookupError:
        return 0
    hours = getattr(settings, "ONE_TIME_CODE_RETENTION_HOURS", 24)
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    count, _detail = model.objects.filter(expires_at__lt=cutoff).delete()
    return count


def session_purge() -> None:
    """Delete expired sessions, as ``manage.py clearsessions`` does, for whichever
    session engine is configured."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
