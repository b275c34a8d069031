"""Sentry, only when ``SENTRY_DSN`` is set, sending no personal data."""

from __future__ import annotations

from config.logs import _scrub

# Event keys that can carry request data or the person behind it.
DROPPED_REQUEST_KEYS = ("data", "cookies", "query_string", "env")


def _scrub_value(value):
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    return value


def before_send(event: dict, hint) -> dict:
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for key in DROPPED_REQUEST_KEYS:
            request.pop(key, None)
        headers = request.get("headers") or {}
        request["headers"] = {
            k: v
            for k, v in headers.items()
            if k.lower() not in {"authorization", "cookie", "x-forwarded-for"}
        }
        if "url" in request:
            request["url"] = request["url"].split("?", 1)[0]
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    for key in ("message", "logentry", "exception", "breadcrumbs", "extra", "request"):
        if key in event:
            event[key] = _scrub_value(event[key])
    return event


def sentry_init(*, dsn: str, environment: str) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,
        traces_sample_rate=0.0,
    )
