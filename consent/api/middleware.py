"""What every /api/ request gets before and after its view.

- English unless the client's ``Accept-Language`` asks for another language (the
  portal's default, Chinese, is for people, not for sending systems).
- A body over ``API_MAX_BODY_BYTES`` (by its Content-Length) is refused with 400 in
  the API's error shape before any work; chunked bodies are capped by the parser.
- The time from an inbound withdrawal's arrival to its committed feed row is
  observed for the ``consent_stop_to_feed_seconds`` histogram.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import JsonResponse
from django.utils import translation

from consent.api.errors import error_body
from consent.api.parsers import MSG_TOO_LARGE
from consent.metrics import STOP_TO_FEED, WITHDRAWING_EFFECTS

API_PREFIX = "/api/"
EVENTS_PATH = "/api/v1/events"


class ApiEdgeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        if not request.headers.get("Accept-Language"):
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        if _content_length(request) > settings.API_MAX_BODY_BYTES:
            return JsonResponse(
                error_body(
                    "request_too_large",
                    MSG_TOO_LARGE % {"max": settings.API_MAX_BODY_BYTES},
                ),
                status=400,
            )
        response = self.get_response(request)
        if request.path == EVENTS_PATH and request.method == "POST":
            _observe_withdrawal(response, time.perf_counter() - started)
        return response


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _observe_withdrawal(response, elapsed: float) -> None:
    if response.status_code != 201 or response.has_header("Idempotent-Replayed"):
        return
    try:
        effect = json.loads(response.content).get("effect")
    except (ValueError, AttributeError):
        return
    if effect in WITHDRAWING_EFFECTS:
        STOP_TO_FEED.labels(effect=effect).observe(elapsed)
