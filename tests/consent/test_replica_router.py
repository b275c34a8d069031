"""The router and the read block without a replica configured (the default)."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, connection

from consent.models import SuppressionChange
from consent.replica import (
    REPLICA,
    ReplicaRouter,
    read_from_replica,
    reading_from,
    replica_configured,
)

pytestmark = pytest.mark.django_db


def test_without_a_replica_every_read_stays_on_the_primary(settings):
    if "replica" in settings.DATABASES:
        pytest.skip("a replica is configured")
    assert not replica_configured()
    with read_from_replica(causal=True) as alias:
        assert alias == DEFAULT_DB_ALIAS
        assert reading_from() == DEFAULT_DB_ALIAS
        assert connection.alias == DEFAULT_DB_ALIAS
        assert SuppressionChange.objects.db == DEFAULT_DB_ALIAS


def test_the_router_sends_writes_and_migrations_to_the_primary():
    router = ReplicaRouter()
    assert router.db_for_read(SuppressionChange) is None
    assert router.db_for_write(SuppressionChange) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "consent") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "consent") is None
