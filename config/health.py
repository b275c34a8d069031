"""``/health/live`` and ``/health/ready`` for load balancers and orchestrators.

Both are public and say only ``ok`` or ``unavailable``: which dependency failed, and
why, goes to the log (django-health-check logs each failed check), never to the
caller. ``live`` checks nothing but the process; ``ready`` runs django-health-check's
database and cache checks and, when a broker is configured, a broker connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime

from django.conf import settings
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class CeleryBroker(HealthCheck):
    """The Celery broker accepts a connection (Redis or RabbitMQ alike).

    Workers are not required: a web process is ready to take requests while they
    restart, and the queued work waits in the broker."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=2), repr=False
    )

    def run(self) -> None:
        from config.celery import app

        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(
                    max_retries=1, timeout=self.timeout.total_seconds()
                )
        except Exception as exc:  # kombu raises transport-specific errors
            raise ServiceUnavailable("broker unreachable") from exc


def _body(ok: bool) -> JsonResponse:
    response = JsonResponse(
        {"status": "ok" if ok else "unavailable"}, status=200 if ok else 503
    )
    add_never_cache_headers(response)
    return response


@require_GET
def live(request):
    return _body(True)


class ReadyView(HealthCheckView):
    """django-health-check's runner, answering without details."""

    http_method_names = ["get"]

    @property
    def checks(self):
        checks = [
            ("health_check.checks.Database", {"alias": "default"}),
            ("health_check.checks.Cache", {"alias": "default"}),
        ]
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            checks.append(CeleryBroker)
        return checks

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        return _body(not any(result.error for result in self.results))


ready = ReadyView.as_view()
