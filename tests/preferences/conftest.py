from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from preferences.auth import SESSION_KEY


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def portal_client(client, customer, phone_point):
    """A browser signed in as ``customer`` (the sign-in flow has its own tests)."""
    session = client.session
    session[SESSION_KEY] = customer.pk
    session.save()
    return client


@pytest.fixture
def last_code(outbox):
    def read() -> str:
        assert outbox, "no message was sent"
        return re.search(r"\b(\d{6})\b", outbox[-1].body).group(1)

    return read
