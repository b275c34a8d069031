"""What every sending-system endpoint shares: key auth, scope, limits, timing."""

from __future__ import annotations

import time

from rest_framework.views import APIView

from consent.api.authentication import (
    ApiClientRateThrottle,
    ApiKeyAuthentication,
    IsApiClient,
)


class ClientApiView(APIView):
    """Base for sender endpoints. ``Server-Timing`` reports the server's own time so a
    sender (and bench/) can tell network from processing."""

    authentication_classes = (ApiKeyAuthentication,)
    permission_classes = (IsApiClient,)
    throttle_classes = (ApiClientRateThrottle,)

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        response = super().dispatch(request, *args, **kwargs)
        response["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        )
        return response
