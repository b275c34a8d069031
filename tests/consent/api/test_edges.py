"""API manners and limits: rate-limit headers, English by default, channel
refusals that name the channel and the right, body size and depth, and a database
outage answered in the API's error shape."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient

from consent.api_clients import api_client_create
from consent.models import InboundEvent

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/suppression/changes"
CHECK = "/api/v1/suppression/check"
EVENTS = "/api/v1/events"


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def _rate_headers(response) -> tuple[int, int, int]:
    return (
        int(response["RateLimit-Limit"]),
        int(response["RateLimit-Remaining"]),
        int(response["RateLimit-Reset"]),
    )


def test_rate_limit_headers_on_every_answer(sender, api):
    client, _key = sender
    client.rate_per_minute = 3
    client.save()
    ok = api.get(CHANGES, {"channel": "sms"})
    assert ok.status_code == 200
    limit, remaining, reset = _rate_headers(ok)
    assert (limit, remaining) == (3, 2) and 1 <= reset <= 60
    bad = api.get(CHANGES, {"after": "x"})
    assert bad.status_code == 400 and _rate_headers(bad)[:2] == (3, 1)
    denied = api.get(CHANGES, {"channel": "voice"})
    assert denied.status_code == 403 and _rate_headers(denied)[:2] == (3, 0)
    throttled = api.get(CHANGES)
    assert throttled.status_code == 429
    assert _rate_headers(throttled)[:2] == (3, 0)
    assert int(throttled["Retry-After"]) >= 1


def test_errors_are_in_english_unless_asked(api):
    plain = _assert_error(
        api.get(CHANGES, {"channel": "voice"}), 403, "permission_denied"
    )
    assert plain["message"] == "This client may not read the channel 'voice'."
    zh = api.get(CHANGES, {"channel": "voice"}, HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert _assert_error(zh, 403, "permission_denied")["message"] == (
        "此客户端无权读取渠道“voice”。"
    )
    assert zh["Content-Language"] == "zh-hans"


def test_english_even_when_the_site_default_is_chinese(api, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    response = api.get(CHANGES, {"after": "x"})
    assert _assert_error(response, 400, "invalid")["message"] == (
        "The request is not valid; see the fields."
    )
    assert response["Content-Language"] == "en"


def test_write_refusal_names_the_channel_and_the_right(db):
    _client, issued = api_client_create(name="mailer", channel_codes=["email"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    response = http.post(
        EVENTS,
        {
            "type": "sms_reply",
            "event_id": "e1",
            "recipient": "13800138000",
            "text": "TD",
        },
        format="json",
    )
    error = _assert_error(response, 403, "permission_denied")
    assert error["message"] == (
        "This client has no right to write to the channel 'sms'."
    )
    assert not InboundEvent.objects.exists()


def test_json_nested_1000_deep_is_a_400(api):
    body = (
        '{"channel": "sms", "topic": "credit_card", "recipients": '
        + ("[" * 1000 + "]" * 1000)
        + "}"
    )
    response = api.post(CHECK, body, content_type="application/json")
    error = _assert_error(response, 400, "too_deep")
    assert error["message"] == "The JSON body is nested too deeply."


def test_moderately_nested_json_is_refused_before_validation(api):
    body = {"channel": "sms", "topic": "credit_card", "recipients": [[[[["x"]]]]]}
    for _ in range(25):
        body = {"a": body}
    response = api.post(CHECK, body, format="json")
    _assert_error(response, 400, "too_deep")


def test_oversize_body_is_a_400_before_any_work(
    api, settings, django_assert_num_queries
):
    settings.API_MAX_BODY_BYTES = 10_000
    body = json.dumps(
        {"channel": "sms", "topic": "credit_card", "recipients": ["1" * 500] * 30}
    )
    with django_assert_num_queries(0):
        response = api.post(CHECK, body, content_type="application/json")
    error = _assert_error(response, 400, "request_too_large")
    assert "10000" in error["message"]


def test_malformed_json_is_a_400_in_the_error_shape(api):
    response = api.post(CHECK, "{nope", content_type="application/json")
    _assert_error(response, 400, "parse_error")


@pytest.fixture
def database_down(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor", refuse
    )


@pytest.mark.parametrize("debug", [False, True])
def test_database_outage_is_a_503_in_the_api_shape(
    sender, database_down, settings, debug
):
    settings.DEBUG = debug
    http = APIClient(raise_request_exception=False)
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {sender[1]}")
    response = http.get(CHANGES)
    error = _assert_error(response, 503, "unavailable")
    assert "retry later" in error["message"]
    assert response["Retry-After"] == str(settings.OUTAGE_RETRY_AFTER)


@pytest.mark.parametrize("debug", [False, True])
def test_database_outage_shows_a_friendly_portal_page(
    portal_client_session, database_down, settings, debug
):
    settings.DEBUG = debug
    portal_client_session.raise_request_exception = False
    response = portal_client_session.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "Temporarily unavailable" in page and "Nothing was changed" in page
    assert "Traceback" not in page and "OperationalError" not in page


@pytest.fixture
def portal_client_session(customer, phone_point):
    from preferences.auth import SESSION_KEY

    client = Client()
    session = client.session
    session[SESSION_KEY] = customer.pk
    session.save()
    return client


def test_docs_start_with_how_to_authenticate(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    description = schema["info"]["description"]
    assert description.startswith("## Authenticate first")
    assert "Authorization: Bearer" in description
    assert "Approval requests → Add" in description


def test_outage_page_speaks_the_visitors_language(portal_client_session, database_down):
    portal_client_session.raise_request_exception = False
    response = portal_client_session.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert response.status_code == 503
    assert "暂时无法使用" in response.content.decode()
