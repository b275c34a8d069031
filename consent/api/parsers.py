"""JSON bodies with limits: size and nesting depth, refused in the API's shape.

DRF's JSONParser lets a deeply nested body raise ``RecursionError`` (an HTML 500)
and reads a chunked body of any size.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MSG_TOO_LARGE = _("The request body is larger than %(max)d bytes.")
MSG_TOO_DEEP = _("The JSON body is nested too deeply.")


def _too_deep(data, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ParseError(MSG_TOO_LARGE % {"max": limit}, code="request_too_large")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_no_constant)
        except RecursionError as exc:
            raise ParseError(MSG_TOO_DEEP, code="too_deep") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _too_deep(data, settings.API_MAX_JSON_DEPTH):
            raise ParseError(MSG_TOO_DEEP, code="too_deep")
        return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
