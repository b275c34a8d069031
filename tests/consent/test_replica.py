"""Reads from a real streaming replica (run by .ci/replica.sh; skipped without one).

Replication is asynchronous, so every test first waits until the replica has
replayed the set-up, and pauses replay (``pg_wal_replay_pause()``) to make the replica
lag on purpose.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent import services
from consent.api_clients import api_client_create
from consent.ledger import Actor
from consent.replica import REPLICA, replica_caught_up, replica_lag_forget
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = [
    pytest.mark.replica,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_REPLICA_URL"),
        reason="needs a streaming replica in DATABASE_REPLICA_URL (.ci/replica.sh)",
    ),
    pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA]),
]

CHANGES = "/api/v1/suppression/changes"
SNAPSHOT = "/api/v1/suppression/snapshot"
CHECK = "/api/v1/suppression/check"
PHONE = "+8613800138000"


@pytest.fixture(autouse=True)
def _fresh(settings):
    from django.core.cache import cache

    cache.clear()
    settings.REPLICA_MAX_LAG_SECONDS = 1.0
    settings.REPLICA_LAG_CACHE_SECONDS = 0.25
    replica_lag_forget()
    yield
    replica_lag_forget()
    cache.clear()


@pytest.fixture
def api(db) -> APIClient:
    _client, issued = api_client_create(name="sms-gateway", channel_codes=["sms"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return http


@pytest.fixture
def person(sms, credit_card, notice_en):
    customer = CustomerFactory()
    add_phone(customer, PHONE)
    grant(customer, sms, credit_card, notice_en)
    return customer


def _caught_up() -> None:
    assert replica_caught_up(wait_ms=10_000), "the replica did not catch up"
    replica_lag_forget()


def _on_replica(sql: str, params=()):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@contextmanager
def replay_paused():
    _on_replica("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        _on_replica("SELECT pg_wal_replay_resume()")


def _stop(customer, sms) -> None:
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=None,
        source="portal",
        actor=Actor.customer(customer),
    )


def _check(api) -> dict:
    response = api.post(
        CHECK,
        {
            "channel": "sms",
            "topic": "credit_card",
            "recipients": [PHONE],
            # Noon in Shanghai: outside the default quiet hours, whenever this runs.
            "at": "2026-01-05T04:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["results"][0]


def _tables(queries) -> str:
    return " ".join(q["sql"] for q in queries)


def test_the_replica_is_a_streaming_hot_standby():
    assert _on_replica("SELECT pg_is_in_recovery()") == [(True,)]
    assert (
        connections[REPLICA].settings_dict["PORT"]
        != (connections[DEFAULT_DB_ALIAS].settings_dict["PORT"])
    )


def _patient(settings) -> None:
    """Routing tests, not bound tests: on a loaded machine the replica can be a
    second behind, and the check's 50 ms catch-up wait too short."""
    settings.REPLICA_MAX_LAG_SECONDS = 30
    settings.REPLICA_CATCHUP_WAIT_MS = 10_000


def test_changes_and_check_read_from_the_replica(api, person, settings):
    _patient(settings)
    _caught_up()
    primary = connections[DEFAULT_DB_ALIAS]
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(primary) as on_primary,
    ):
        changes = api.get(CHANGES, {"after": 0})
        answer = _check(api)
    assert changes.status_code == 200
    assert {r["identifier"] for r in changes.json()["results"]} == {PHONE}
    assert answer["allowed"] is True
    assert "consent_suppressionchange" in _tables(on_replica)
    assert "consent_contactability" in _tables(on_replica)
    # The primary answers only the check's feed-head question.
    primary_reads = [
        q for q in on_primary.captured_queries if "MAX(seq)" not in q["sql"]
    ]
    assert "consent_suppressionchange" not in _tables(primary_reads)
    assert "consent_contactability" not in _tables(primary_reads)


def test_a_stop_on_the_primary_is_never_allowed_from_a_paused_replica(api, person, sms):
    _caught_up()
    assert _check(api)["allowed"] is True
    with replay_paused():
        started = time.perf_counter()
        _stop(person, sms)
        with CaptureQueriesContext(connections[REPLICA]) as on_replica:
            answer = _check(api)
        elapsed = time.perf_counter() - started
        # The router saw the replica behind the primary and read the primary.
        assert "MAX(seq)" in _tables(on_replica)
        assert "consent_contactability" not in _tables(on_replica)
        # The replica has not replayed the STOP: it still permits the number.
        assert _on_replica(
            "SELECT count(*) FROM consent_contactability WHERE NOT suppressed"
        ) == [(1,)]
    assert answer["allowed"] is False
    assert "withdrawn" in answer["reasons"]
    print(f"STOP then check with replay paused: {elapsed * 1000:.1f} ms")


def test_feed_reads_fall_back_to_the_primary_past_the_lag_bound(
    api, person, sms, settings
):
    _caught_up()
    first = api.get(CHANGES, {"after": 0}).json()
    seq_before = first["last_seq"]
    with replay_paused():
        _stop(person, sms)
        # Within a generous bound the lagging replica still serves the feed: the
        # STOP is not there yet, and the cursor stays where it was.
        settings.REPLICA_MAX_LAG_SECONDS = 60
        replica_lag_forget()
        stale = api.get(CHANGES, {"after": seq_before}).json()
        assert stale["results"] == []
        assert stale["last_seq"] == seq_before
        snapshot = api.get(SNAPSHOT, {"channel": "sms"})
        b"".join(snapshot.streaming_content)
        assert int(snapshot["X-Feed-Seq"]) == seq_before
        # Past the 1 s bound reads go to the primary; the replica's cursor is
        # valid there.
        settings.REPLICA_MAX_LAG_SECONDS = 1.0
        time.sleep(1.3)
        fresh = api.get(CHANGES, {"after": seq_before}).json()
        assert [r["identifier"] for r in fresh["results"]] == [PHONE]
        assert fresh["results"][0]["suppressed"] is True
        snapshot = api.get(SNAPSHOT, {"channel": "sms"})
        b"".join(snapshot.streaming_content)
        assert int(snapshot["X-Feed-Seq"]) == fresh["last_seq"]
    # Caught up again, the replica continues from the primary's cursor.
    _patient(settings)
    _caught_up()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        after = api.get(CHANGES, {"after": fresh["last_seq"]}).json()
    assert after == {"results": [], "next": None, "last_seq": fresh["last_seq"]}
    assert "consent_suppressionchange" in _tables(on_replica)


def test_complaint_statistics_read_from_the_replica(
    staff_user, otp_admin_client, settings
):
    _patient(settings)
    client = otp_admin_client(staff_user("supervisor"))
    _caught_up()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.get("/admin/complaints/complaint/statistics/")
    assert response.status_code == 200
    assert "complaints_complaint" in _tables(on_replica)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def test_figures_replication_delay_and_check_times(api, person, settings):
    """Measures, and checks only that the replica serves within its bound: the
    figures go to the CI log (run with -s)."""
    from consent.replica import replica_lag_measure

    _caught_up()
    # How long until a commit on the primary is visible on the replica.
    delays = []
    for i in range(30):
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(
                "UPDATE consent_apiclient SET rate_per_minute = %s WHERE name = %s",
                [600 + i, "sms-gateway"],
            )
        started = time.perf_counter()
        while _on_replica(
            "SELECT rate_per_minute FROM consent_apiclient WHERE name = %s",
            ["sms-gateway"],
        ) != [(600 + i,)]:
            assert time.perf_counter() - started < 5
        delays.append((time.perf_counter() - started) * 1000)
    measures = []
    for _ in range(30):
        started = time.perf_counter()
        lag = replica_lag_measure()
        measures.append((time.perf_counter() - started) * 1000)
    assert lag < settings.REPLICA_MAX_LAG_SECONDS

    def check_times() -> tuple[list[float], int]:
        times, on_replica = [], 0
        for _ in range(30):
            started = time.perf_counter()
            with CaptureQueriesContext(connections[REPLICA]) as queries:
                _check(api)
            times.append((time.perf_counter() - started) * 1000)
            on_replica += "consent_contactability" in _tables(queries)
        return times, on_replica

    from django.core.cache import cache

    cache.clear()
    _times, served = check_times()  # default bound and catch-up wait
    _patient(settings)
    via_replica, _all = check_times()
    settings.REPLICA_MAX_LAG_SECONDS = -1  # every read on the primary
    cache.clear()
    via_primary, _none = check_times()
    print(
        "\nreplica figures: commit visible on the replica after "
        f"p50 {_pct(delays, 0.5):.1f} / p99 {_pct(delays, 0.99):.1f} ms; "
        f"lag measurement p50 {_pct(measures, 0.5):.2f} ms; "
        f"with the defaults {served}/30 checks were answered by the replica; "
        f"check (1 recipient, in process) from the replica p50 "
        f"{_pct(via_replica, 0.5):.1f} / p99 {_pct(via_replica, 0.99):.1f} ms, "
        f"from the primary p50 {_pct(via_primary, 0.5):.1f} / "
        f"p99 {_pct(via_primary, 0.99):.1f} ms"
    )


def test_an_unreachable_replica_sends_reads_to_the_primary(api, person, settings):
    _patient(settings)
    replica = connections[REPLICA]
    port = replica.settings_dict["PORT"]
    replica.close()
    replica.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        replica_lag_forget()
        changes = api.get(CHANGES, {"after": 0})
        answer = _check(api)
    finally:
        replica.close()
        replica.settings_dict["PORT"] = port
    assert changes.status_code == 200
    assert {r["identifier"] for r in changes.json()["results"]} == {PHONE}
    assert answer["allowed"] is True
