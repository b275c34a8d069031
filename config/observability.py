"""Cross-cutting operations pieces: what a database outage looks like from outside.

During an outage the API answers 503 in its documented error shape with
``Retry-After``; every other page is a short friendly page (503), never Django's
HTML 500 or the debug page. Nothing here may touch the database.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.views.defaults import server_error

logger = logging.getLogger("config.outage")

MSG_UNAVAILABLE = _(
    "The service is temporarily unavailable. Nothing was changed; retry later."
)
OUTAGE_ERRORS = (OperationalError, InterfaceError)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def outage_response(request) -> HttpResponse:
    from consent.api.errors import error_body

    retry_after = str(settings.OUTAGE_RETRY_AFTER)
    # The session lives in the database too: without this, saving it on the way
    # out would fail again and turn the page into a 500.
    request.__dict__.pop("session", None)
    if _is_api(request):
        response = JsonResponse(error_body("unavailable", MSG_UNAVAILABLE), status=503)
    else:
        response = HttpResponse(
            render_to_string("unavailable.html", {"retry_after": retry_after}),
            status=503,
        )
    response["Retry-After"] = retry_after
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Turns a lost database connection raised by a view into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OUTAGE_ERRORS):
            logger.error(
                "database_unavailable", extra={"error": type(exception).__name__}
            )
            return outage_response(request)
        return None


def handler500(request, *args, **kwargs):
    """The last resort (an outage met outside a view, e.g. saving the session)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OUTAGE_ERRORS) or (
        isinstance(exc, DatabaseError)
        and exc.__cause__ is not None
        and isinstance(exc.__cause__, OSError)
    ):
        return outage_response(request)
    if _is_api(request):
        from consent.api.errors import error_body

        return JsonResponse(
            error_body("server_error", _("Internal error; it has been logged.")),
            status=500,
        )
    return server_error(request)
