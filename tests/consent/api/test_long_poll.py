"""Long polling of the feed: ``changes?wait=N`` holds an empty page until a row
commits, and answers at once when rows are already there."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from consent.api_clients import api_client_create
from consent.ledger import Actor
from consent.services import consent_opt_out_all
from tests.factories import CustomerFactory, add_phone

CHANGES = "/api/v1/suppression/changes"


def _reader():
    _client, issued = api_client_create(name="poller", channel_codes=["sms"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    return http


@pytest.mark.django_db
def test_rows_already_there_are_answered_at_once(customer, phone_point):
    http = _reader()
    started = time.monotonic()
    page = http.get(CHANGES, {"after": 0, "wait": 10}).json()
    assert page["results"] and time.monotonic() - started < 5


@pytest.mark.django_db
def test_an_empty_wait_ends_after_its_seconds(customer, phone_point):
    http = _reader()
    last = http.get(CHANGES, {"after": 0}).json()["last_seq"]
    started = time.monotonic()
    page = http.get(CHANGES, {"after": last, "wait": 1}).json()
    elapsed = time.monotonic() - started
    assert page["results"] == [] and page["last_seq"] == last
    assert 0.9 <= elapsed < 5


@pytest.mark.django_db
def test_wait_is_bounded(customer):
    http = _reader()
    response = http.get(CHANGES, {"wait": 31})
    assert response.status_code == 400
    assert "wait" in response.json()["error"]["fields"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_waiting_reader_wakes_when_a_stop_commits():
    if connection.vendor != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    customer = CustomerFactory()
    add_phone(customer, "+8613700000777")
    http = _reader()
    last = http.get(CHANGES, {"after": 0}).json()["last_seq"]
    result = {}

    def wait() -> None:
        started = time.monotonic()
        result["page"] = http.get(CHANGES, {"after": last, "wait": 20}).json()
        result["woke_at"] = time.monotonic()
        result["seconds"] = result["woke_at"] - started
        connection.close()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.5)
    consent_opt_out_all(
        customer=customer, source="portal", actor=Actor.customer(customer)
    )
    committed = time.monotonic()
    thread.join(25)
    assert result["page"]["results"], result
    assert result["page"]["results"][0]["suppressed"] is True
    assert result["seconds"] < 10
    assert result["woke_at"] - committed < 1.0
