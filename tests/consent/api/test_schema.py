"""The OpenAPI schema and docs, and a bounded schemathesis run that finds no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.django_db


def test_schema_documents_every_endpoint_with_bearer_auth(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in ("changes", "snapshot", "check", "status"):
        assert f"/api/v1/suppression/{path}" in paths
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    check = paths["/api/v1/suppression/check"]["post"]
    assert {"200", "400", "401", "403", "429"} <= set(check["responses"])
    error = check["responses"]["400"]["content"]["application/json"]
    assert error["examples"]
    assert "Error" in schema["components"]["schemas"]


def test_docs_page_loads_from_own_static_files_under_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn" not in html.lower()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.fixture
def api_schema(db):
    """The app through WSGI. Like Django's test client, keep the test's connection
    open across requests (it holds the test transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    from config.wsgi import application

    hooks = (signals.request_started, signals.request_finished)
    for hook in hooks:
        hook.disconnect(close_old_connections)
    try:
        yield schemathesis.from_wsgi("/api/schema/?format=json", application)
    finally:
        for hook in hooks:
            hook.connect(close_old_connections)


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, sender):
    from django.core.cache import cache

    cache.clear()  # stay under the client's rate limit
    response = case.call_wsgi(headers={"Authorization": f"Bearer {sender[1]}"})
    case.validate_response(response, checks=(not_a_server_error,))
