"""The floor of this stack: a minimal Django view that commits one single-row insert
(same settings, middleware, gunicorn and persistent connection as the product)."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

CREATE = (
    "CREATE TABLE IF NOT EXISTS bench_floor "
    "(id bigserial PRIMARY KEY, body text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())"
)


@csrf_exempt
def insert_one(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (body) VALUES (%s)", [request.body[:200]]
        )
    return HttpResponse(status=201)


urlpatterns = [path("floor", insert_one)]
