"""The one error shape of the API, for every 4xx:

``{"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}``
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from consent.errors import ApplicationError

MSG_INVALID = _("The request is not valid; see the fields.")
MSG_NOT_FOUND = _("No such API endpoint.")


def error_body(code: str, message, fields: dict | None = None) -> dict:
    return {
        "error": {"code": code, "message": force_str(message), "fields": fields or {}}
    }


def _flatten(detail) -> dict:
    """DRF's nested detail as ``{field: [messages]}`` (nested keys joined with dots)."""
    if isinstance(detail, dict):
        out: dict = {}
        for name, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{name}.{sub}"] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for i, item in enumerate(value):
                    for sub, msgs in _flatten(item).items():
                        out[f"{name}.{i}.{sub}"] = msgs
            elif isinstance(value, list):
                out[name] = [force_str(v) for v in value]
            else:
                out[name] = [force_str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [force_str(v) for v in detail]}
    return {"non_field_errors": [force_str(detail)]}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ApplicationError):
        response = drf_exception_handler(exceptions.APIException(exc.message), context)
        response.status_code = exc.extra.get("status", status.HTTP_400_BAD_REQUEST)
        response.data = error_body(exc.code, exc.message, exc.extra.get("fields"))
        return response

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", MSG_INVALID, _flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else exc
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if not isinstance(code, str):
            code = getattr(exc, "default_code", "error")
        response.data = error_body(code, detail)
    return response


def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/ answer in the API's shape, not with an HTML page."""
    return JsonResponse(
        error_body("not_found", MSG_NOT_FOUND), status=status.HTTP_404_NOT_FOUND
    )
