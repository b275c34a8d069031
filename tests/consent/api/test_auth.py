from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from consent.api_clients import (
    api_client_create,
    api_client_set_channels,
    api_key_revoke,
    api_key_rotate,
)
from consent.models import ApiClient, ApiKey

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/suppression/changes"


def _http(key: str | None) -> APIClient:
    http = APIClient()
    if key:
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return http


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)


def test_missing_key_is_401_with_bearer_challenge(db):
    response = _http(None).get(CHANGES)
    _assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nope", "Basic abc", "Bearer a b", "Bearer"])
def test_invalid_key_is_401(db, header):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=header)
    response = http.get(CHANGES)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {
        "authentication_failed",
        "not_authenticated",
    }


def test_key_is_stored_only_as_a_hash(sender):
    client, clear = sender
    key = ApiKey.objects.get(client=client)
    assert clear not in (key.key_hash, key.prefix)
    assert len(key.key_hash) == 64
    assert _http(clear).get(CHANGES).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_revoked_key_is_refused_at_once(sender):
    client, clear = sender
    api_key_revoke(key=client.keys.get())
    _assert_error(_http(clear).get(CHANGES), 401, "authentication_failed")


def test_inactive_client_is_refused(sender):
    client, clear = sender
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    assert _http(clear).get(CHANGES).status_code == 401


def test_rotation_keeps_old_key_valid_during_the_overlap_only(sender, settings):
    settings.API_KEY_CACHE_SECONDS = 0  # the expiry below is written behind its back
    client, old = sender
    issued = api_key_rotate(client=client, overlap=timedelta(days=7))
    assert _http(old).get(CHANGES).status_code == 200
    assert _http(issued.clear).get(CHANGES).status_code == 200
    old_key = client.keys.exclude(pk=issued.key.pk).get()
    assert old_key.expires_at > timezone.now() + timedelta(days=6)
    ApiKey.objects.filter(pk=old_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _http(old).get(CHANGES).status_code == 401
    assert _http(issued.clear).get(CHANGES).status_code == 200


def test_channel_outside_scope_is_403(api):
    _assert_error(api.get(CHANGES, {"channel": "voice"}), 403, "permission_denied")
    response = api.post(
        "/api/v1/suppression/check",
        {"channel": "voice", "topic": "credit_card", "recipients": ["+8613800138000"]},
        format="json",
    )
    _assert_error(response, 403, "permission_denied")
    _assert_error(
        api.get("/api/v1/suppression/snapshot", {"channel": "push"}),
        403,
        "permission_denied",
    )


def test_scope_change_applies_to_the_next_request(sender, api):
    client, _clear = sender
    api_client_set_channels(client=client, channel_codes=["voice"])
    assert api.get(CHANGES, {"channel": "voice"}).status_code == 200
    assert api.get(CHANGES, {"channel": "sms"}).status_code == 403


def test_rate_limit_is_per_client_with_retry_after(db):
    slow, slow_key = api_client_create(
        name="slow", channel_codes=["sms"], rate_per_minute=3
    )
    _other, other_key = api_client_create(name="other", channel_codes=["sms"])
    for _ in range(3):
        assert _http(slow_key.clear).get(CHANGES).status_code == 200
    response = _http(slow_key.clear).get(CHANGES)
    _assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert _http(other_key.clear).get(CHANGES).status_code == 200


def test_unknown_api_route_answers_json(db):
    _assert_error(_http(None).get("/api/v1/nothing-here"), 404, "not_found")


def test_create_api_client_command_prints_the_key_last(db):
    out = StringIO()
    call_command(
        "create_api_client", "--name", "mailer", "--channels", "email", stdout=out
    )
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("ck_")
    client = ApiClient.objects.get(name="mailer")
    assert list(client.channels.values_list("code", flat=True)) == ["email"]
    assert _http(key).get(CHANGES, {"channel": "email"}).status_code == 200
    assert _http(key).get(CHANGES, {"channel": "sms"}).status_code == 403


def test_create_api_client_rejects_unknown_channels(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_client", "--name", "x", "--channels", "fax")
    assert not ApiClient.objects.exists()


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_bound(
    sender, settings
):
    import time

    from django.utils import timezone

    from consent.models import ApiKey

    settings.API_KEY_CACHE_SECONDS = 0.5
    client, clear = sender
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert http.get("/api/v1/suppression/status").status_code == 200
    # Another worker revokes it: no signal reaches this process.
    ApiKey.objects.filter(client=client).update(revoked_at=timezone.now())
    assert http.get("/api/v1/suppression/status").status_code == 200  # cached
    time.sleep(0.6)
    assert http.get("/api/v1/suppression/status").status_code == 401


def test_a_key_revoked_here_stops_at_once(sender, settings):
    from consent.api_clients import api_key_revoke

    settings.API_KEY_CACHE_SECONDS = 60
    client, clear = sender
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    assert http.get("/api/v1/suppression/status").status_code == 200
    api_key_revoke(key=client.keys.get())
    assert http.get("/api/v1/suppression/status").status_code == 401


def test_authentication_reads_the_key_once_and_writes_last_used_once_a_minute(
    sender, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.API_KEY_CACHE_SECONDS = 60
    _client, clear = sender
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {clear}")
    http.get("/api/v1/suppression/status")
    with CaptureQueriesContext(connection) as queries:
        assert http.get("/api/v1/suppression/status").status_code == 200
    touched = " ".join(q["sql"] for q in queries.captured_queries)
    assert "consent_apikey" not in touched and "consent_apiclient" not in touched
