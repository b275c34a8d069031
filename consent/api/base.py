"""What every sending-system endpoint shares: key auth, scope, limits, timing."""

from __future__ import annotations

import time

from rest_framework.views import APIView

from consent.api.authentication import (
    ApiClientRateThrottle,
    ApiKeyAuthentication,
    ChannelDenied,
    IsApiClient,
)


class ClientApiView(APIView):
    """Base for sender endpoints. ``Server-Timing`` reports the server's own time so a
    sender (and bench/) can tell network from processing; ``RateLimit-Limit``,
    ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds) describe the client's
    current one-minute window on every answer, not only on a 429."""

    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = (IsApiClient,)
    throttle_classes = (ApiClientRateThrottle,)
    # "write" for endpoints that change state, so a channel refusal says so.
    channel_access = "read"

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        response["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        )
        limit = getattr(self.request, "_rate_limit", None)
        if limit is not None:
            response["RateLimit-Limit"] = str(limit[0])
            response["RateLimit-Remaining"] = str(limit[1])
            response["RateLimit-Reset"] = str(limit[2])
        return response

    def handle_exception(self, exc):
        if isinstance(exc, ChannelDenied) and self.channel_access == "write":
            exc = exc.for_write()
        return super().handle_exception(exc)
