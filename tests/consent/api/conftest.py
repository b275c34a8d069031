from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from consent.api_clients import api_client_create


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sender(db):
    """A sending system reading sms and email, with its clear key."""
    client, issued = api_client_create(
        name="sms-gateway", channel_codes=["sms", "email"]
    )
    return client, issued.clear


@pytest.fixture
def api(sender) -> APIClient:
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {sender[1]}")
    return http
