"""OpenAPI pieces: the Bearer scheme for API keys, and the docs page under the CSP."""

from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer

from consent.api.serializers import ErrorSerializer


def documented_error(
    description: str, code: str, message: str, fields: dict | None = None
) -> OpenApiResponse:
    """An error response for the schema, in the one error shape, with an example."""
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={
                    "error": {"code": code, "message": message, "fields": fields or {}}
                },
            )
        ],
    )


def documented_bad_request(fields: dict) -> OpenApiResponse:
    return documented_error(
        "Bad input; nothing was changed.",
        "invalid",
        "The request is not valid; see the fields.",
        fields,
    )


UNAUTHENTICATED = documented_error(
    "Missing, invalid, expired or revoked key.",
    "authentication_failed",
    "The API key is not valid, has expired or was revoked.",
)
THROTTLED = documented_error(
    "Over the client's requests per minute; see Retry-After.",
    "throttled",
    "Request was throttled. Expected available in 12 seconds.",
)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "consent.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A client's API key: `Authorization: Bearer ck_…`. Made in "
            "admin or with `manage.py create_api_client`; shown once.",
        }


class SchemaView(SpectacularAPIView):
    """The schema is public: it documents the contract, not data."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (OpenApiJsonRenderer, OpenApiYamlRenderer, JSONRenderer)


# Swagger UI sets inline styles on its widgets; scripts stay 'self' only (the split
# view serves its start-up script as a separate file).
@method_decorator(csp_update({"style-src": ["'unsafe-inline'"]}), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
