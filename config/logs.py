"""Structured JSON logs (structlog, django-structlog) without personal data.

One line per request (``request_finished``: method, URL pattern, status, request
id) and one per Celery task (``task_succeeded`` / ``task_failed`` with the task's
name and the request id that enqueued it). The path is logged as its URL pattern
(``/u/<str:token>``), never as sent: paths carry one-click tokens, and an unknown
path could carry anything. As a last line of defence ``scrub_personal_data``
replaces anything shaped like an e-mail address or a phone number in every logged
string.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[^\s@\"'<>()]+@[^\s@\"'<>()]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.])\+?\d(?:[ -]?\d){6,14}(?![\w.])")
# Values that are ours and are never personal data; timestamps look like numbers.
SAFE_KEYS = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "request_id",
        "task_id",
        "correlation_id",
        "parent_task_id",
        "child_task_id",
        "code",
        "duration_ms",
        "user_id",
        "ip",
    }
)


def _scrub(text: str) -> str:
    return PHONE.sub("[number]", EMAIL.sub("[email]", text))


def scrub_personal_data(logger, method_name, event_dict):
    for key, value in list(event_dict.items()):
        if key in SAFE_KEYS:
            continue
        if isinstance(value, str):
            event_dict[key] = _scrub(value)
        elif isinstance(value, (list, tuple)):
            event_dict[key] = [_scrub(v) if isinstance(v, str) else v for v in value]
    return event_dict


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return f"{request.method} <unmatched>"
    route = match.route
    return f"{request.method} {route if route.startswith('^') else '/' + route}"


def _request_pattern(sender, request, logger, log_kwargs, **kwargs) -> None:
    log_kwargs["request"] = _route(request)
    log_kwargs.pop("user_agent", None)


def _task_name(sender, task, logger, **kwargs) -> None:
    import structlog

    structlog.contextvars.bind_contextvars(task=task.name)


def _eager_receiver():
    """django-structlog's task receiver for tasks run inside the web process
    (Celery eager mode: development and tests). A task's line carries the id of the
    request it ran in, and the request's own context is restored after it."""
    import structlog
    from django_structlog.celery.receivers import CeleryReceiver

    class EagerTaskReceiver(CeleryReceiver):
        def receiver_task_prerun(self, task_id, task, *args, **kwargs):
            outer = structlog.contextvars.get_contextvars()
            task.request._outer_log_context = outer
            super().receiver_task_prerun(task_id, task, *args, **kwargs)
            if "request_id" in outer:
                structlog.contextvars.bind_contextvars(request_id=outer["request_id"])

        def _restore(self, task) -> None:
            outer = getattr(getattr(task, "request", None), "_outer_log_context", None)
            structlog.contextvars.clear_contextvars()
            if outer:
                structlog.contextvars.bind_contextvars(**outer)

        def receiver_task_success(self, result=None, sender=None, **kwargs):
            super().receiver_task_success(result=result, sender=sender, **kwargs)
            self._restore(sender)

        def receiver_task_failure(self, task_id=None, exception=None, *args, **kwargs):
            super().receiver_task_failure(task_id, exception, *args, **kwargs)
            self._restore(kwargs.get("sender"))

    return EagerTaskReceiver()


def connect_signals() -> None:
    from django.conf import settings
    from django_structlog import signals
    from django_structlog.celery import signals as celery_signals

    signals.bind_extra_request_metadata.connect(_request_pattern, weak=False)
    signals.bind_extra_request_finished_metadata.connect(_request_pattern, weak=False)
    signals.bind_extra_request_failed_metadata.connect(_request_pattern, weak=False)
    celery_signals.bind_extra_task_metadata.connect(_task_name, weak=False)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        global _EAGER_RECEIVER
        _EAGER_RECEIVER = _eager_receiver()
        _EAGER_RECEIVER.connect_worker_signals()


_EAGER_RECEIVER = None


def logging_config(*, level: str, fmt: str) -> dict:
    """The LOGGING setting, and structlog configured to feed it."""
    import structlog

    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": shared,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    scrub_personal_data,
                    renderer,
                ],
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # django-structlog's request_finished replaces Django's request lines,
            # which carry the raw path (one-click tokens).
            "django.server": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
            # django-structlog's task lines replace Celery's, which print results
            # and add a "received" line per task.
            "celery.app.trace": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
        },
    }
