"""System checks: production refuses weak secrets and settings that break quietly.

The secret checks run with every command. The production checks carry the deploy
tag, so ``manage.py check --deploy`` reports them, and ``refuse_unsafe_production``
runs them when a web or Celery process starts, so a production process never serves
with them failing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

# Message senders that write a one-time code next to the clear address.
DEVELOPMENT_SENDERS = {"console", "file", "locmem"}
# Django e-mail backends that do not deliver mail.
DEVELOPMENT_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
IN_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.security)
def secrets_check(app_configs, **kwargs) -> list[Error]:
    from consent.crypto import KeyConfigError, parse_keys

    errors = []
    try:
        parse_keys(settings.FIELD_ENCRYPTION_KEYS)
    except KeyConfigError as exc:
        errors.append(Error(str(exc), id="config.E002"))
    if settings.PRODUCTION:
        if len(settings.SECRET_KEY) < 50:
            errors.append(
                Error("SECRET_KEY must be a long random value.", id="config.E001")
            )
        if len(settings.BLIND_INDEX_KEY) < 32:
            errors.append(
                Error(
                    "BLIND_INDEX_KEY must be at least 32 characters.", id="config.E003"
                )
            )
    return errors


@register(Tags.security, deploy=True)
def production_settings_check(app_configs, **kwargs) -> list[Error]:
    """With APP_ENV=production, refuse what works on one machine and fails on many."""
    if not settings.PRODUCTION:
        return []
    errors = []
    if settings.DEBUG:
        errors.append(
            Error(
                "DEBUG is on: error pages would show settings and personal data.",
                hint="Unset DEBUG; APP_ENV=production turns it off.",
                id="config.E010",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        errors.append(
            Error(
                "The database is SQLite: one file on one machine, one writer at a "
                "time.",
                hint="Set DATABASE_URL=postgres://…",
                id="config.E011",
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER or settings.CELERY_BROKER_URL.startswith(
        "memory://"
    ):
        errors.append(
            Error(
                "No Celery broker: tasks would run inside web requests and beat "
                "schedules would never run.",
                hint="Set CELERY_BROKER_URL=redis://… or amqp://…",
                id="config.E012",
            )
        )
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in IN_PROCESS_CACHES:
        errors.append(
            Error(
                "The cache is in-process: rate limits and sign-in lockouts would "
                "count per worker, not per site.",
                hint="Set CACHE_URL=redis://…",
                id="config.E013",
            )
        )
    if settings.MESSAGE_SENDER in DEVELOPMENT_SENDERS:
        errors.append(
            Error(
                f"MESSAGE_SENDER={settings.MESSAGE_SENDER!r} keeps one-time codes "
                "next to clear addresses and delivers nothing.",
                hint="Set MESSAGE_SENDER=production with SMS_GATEWAY_URL and "
                "EMAIL_URL.",
                id="config.E014",
            )
        )
    elif settings.MESSAGE_SENDER == "production":
        if not settings.SMS_GATEWAY_URL:
            errors.append(
                Error(
                    "MESSAGE_SENDER=production needs SMS_GATEWAY_URL.",
                    id="config.E015",
                )
            )
        if settings.EMAIL_BACKEND in DEVELOPMENT_EMAIL_BACKENDS:
            errors.append(
                Error(
                    f"The e-mail backend delivers nothing: {settings.EMAIL_BACKEND}.",
                    hint="Set EMAIL_URL=smtp+tls://user:password@host:587",
                    id="config.E016",
                )
            )
    return errors


def refuse_unsafe_production() -> None:
    """Called when a production web or Celery process starts."""
    if not settings.PRODUCTION:
        return
    errors = secrets_check(None) + production_settings_check(None)
    if errors:
        raise ImproperlyConfigured(
            "Refusing to start: " + " ".join(f"{e.id}: {e.msg}" for e in errors)
        )
