"""changes and snapshot: paging, continuity, consistency with the stored state."""

from __future__ import annotations

import csv
import io
import json

import pytest

from consent import crypto, services
from consent.ledger import Actor
from consent.models import Contactability, SuppressionChange
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/suppression/changes"
SNAPSHOT = "/api/v1/suppression/snapshot"
# The PostgreSQL snapshot reads on its own connection: the data must be committed.
SNAPSHOT_DB = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _people(n, sms, credit_card, notice):
    people = []
    for i in range(n):
        customer = CustomerFactory()
        add_phone(customer, f"+861380000{i:04d}")
        add_email(customer, f"person{i}@example.com")
        grant(customer, sms, credit_card, notice)
        people.append(customer)
    return people


def _follow(api, after=0, limit=1000, **params):
    rows = []
    while True:
        page = api.get(CHANGES, {"after": after, "limit": limit, **params}).json()
        rows.extend(page["results"])
        after = page["last_seq"]
        if page["next"] is None:
            return rows, after


def _snapshot(api, **params):
    response = api.get(SNAPSHOT, params)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = [json.loads(line) for line in body.splitlines()]
    return int(response["X-Feed-Seq"]), rows


def _state(rows):
    return {(r["identifier"], r["channel"]): r for r in rows}


def test_pages_are_contiguous_in_seq_order(api, sms, credit_card, notice_en):
    _people(4, sms, credit_card, notice_en)
    rows, last = _follow(api, limit=3)
    feed = list(
        SuppressionChange.objects.filter(channel__code__in=["sms", "email"])
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert [r["seq"] for r in rows] == feed
    assert last == feed[-1]
    first = api.get(CHANGES, {"limit": 3}).json()
    assert (
        first["next"].endswith(f"after={first['last_seq']}")
        or "after=" in first["next"]
    )
    assert api.get(CHANGES, {"after": last}).json() == {
        "results": [],
        "next": None,
        "last_seq": last,
    }


def test_rows_carry_the_full_key_state(api, sms, credit_card, notice_en):
    customer = _people(1, sms, credit_card, notice_en)[0]
    rows, _ = _follow(api, channel="sms")
    latest = rows[-1]
    assert latest["identifier"] == "+8613800000000"
    assert latest["suppressed"] is False
    assert "credit_card" in latest["permitted_topics"]
    assert set(latest) == {
        "seq",
        "identifier",
        "channel",
        "suppressed",
        "permitted_topics",
        "reasons",
        "paused_until",
        "quiet_hours",
        "max_per_week",
        "personalisation",
        "updated_at",
    }
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=credit_card,
        source="api",
        actor=Actor.client("sms-gateway"),
    )
    new, _ = _follow(api, after=latest["seq"], channel="sms")
    assert len(new) == 1
    assert new[0]["suppressed"] is True and "withdrawn" in new[0]["reasons"]


def test_channel_filter(api, sms, credit_card, notice_en):
    _people(2, sms, credit_card, notice_en)
    rows, _ = _follow(api, channel="email")
    assert rows and {r["channel"] for r in rows} == {"email"}


@SNAPSHOT_DB
def test_snapshot_plus_changes_equals_state(api, sms, credit_card, notice_en):
    people = _people(3, sms, credit_card, notice_en)
    feed_seq, rows = _snapshot(api)
    copy = _state(rows)
    services.consent_opt_out_all(
        customer=people[0], source="portal", actor=Actor.customer(people[0])
    )
    later = CustomerFactory()
    add_phone(later, "+8613911112222")
    changes, _ = _follow(api, after=feed_seq, limit=2)
    assert changes and all(r["seq"] > feed_seq for r in changes)
    for row in changes:
        copy[(row["identifier"], row["channel"])] = row
    _head, fresh = _snapshot(api)
    assert copy == _state(fresh)
    assert (
        len(fresh)
        == Contactability.objects.filter(channel__code__in=["sms", "email"]).count()
    )


@SNAPSHOT_DB
def test_snapshot_csv(api, sms, credit_card, notice_en):
    _people(2, sms, credit_card, notice_en)
    response = api.get(SNAPSHOT, {"format": "csv", "channel": "sms"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["identifier"] for r in rows} == {"+8613800000000", "+8613800000001"}
    assert all(r["suppressed"] == "f" for r in rows)
    assert all("credit_card" in r["permitted_topics"].split(" ") for r in rows)


@SNAPSHOT_DB
def test_hmac_identifiers_round_trip(api, sender, sms, credit_card, notice_en):
    _people(2, sms, credit_card, notice_en)
    client, _key = sender
    digest = crypto.client_hmac(client.hmac_key, "+8613800000001")
    rows, _ = _follow(api, channel="sms", identifier_format="hmac")
    assert digest in {r["identifier"] for r in rows}
    assert "+8613800000001" not in json.dumps(rows)
    _seq, snap = _snapshot(api, channel="sms", identifier_format="hmac")
    assert digest in {r["identifier"] for r in snap}
    response = api.post(
        "/api/v1/suppression/check",
        {
            "channel": "sms",
            "topic": "credit_card",
            "identifier_format": "hmac",
            "at": "2026-01-05T04:00:00Z",
            "recipients": [digest, "0" * 64, "zz"],
        },
        format="json",
    )
    results = response.json()["results"]
    assert results[0]["allowed"] is True
    assert results[1] == {
        "recipient": "0" * 64,
        "allowed": False,
        "reasons": ["no_consent"],
        "error": None,
    }
    assert results[2]["error"]["code"] == "hmac_invalid"


@pytest.mark.parametrize(
    "params",
    [
        {"after": "abc"},
        {"after": "-1"},
        {"limit": "0"},
        {"limit": "10001"},
        {"channel": "fax"},
        {"identifier_format": "md5"},
    ],
)
def test_bad_query_is_400_with_fields(api, params):
    response = api.get(CHANGES, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == set(params)


def test_bad_snapshot_format_is_400(api):
    response = api.get(SNAPSHOT, {"format": "xml"})
    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]


def test_changes_page_query_count_is_fixed(
    api, sms, credit_card, notice_en, django_assert_max_num_queries
):
    _people(5, sms, credit_card, notice_en)
    api.get(CHANGES)  # last_used_at written once
    with django_assert_max_num_queries(3):
        page = api.get(CHANGES, {"limit": 10000}).json()
    assert len(page["results"]) >= 10


def test_status_reports_newest_seq(api, sms, credit_card, notice_en):
    _people(1, sms, credit_card, notice_en)
    body = api.get("/api/v1/suppression/status").json()
    newest = SuppressionChange.objects.order_by("-seq").first()
    assert body["last_seq"] == newest.seq
    assert body["last_change_at"].startswith(newest.created_at.strftime("%Y-%m-%dT"))
    assert body["channels"] == ["email", "sms"]


@SNAPSHOT_DB
def test_snapshot_keeps_awkward_identifiers_intact(db):
    """Backslashes, quotes and non-ASCII survive the COPY-built JSON and CSV."""
    from rest_framework.test import APIClient

    from consent.api_clients import api_client_create

    token = 'tok\\en"with\u00e9\u4e2d'
    customer = CustomerFactory()
    services.contact_point_add(
        customer=customer,
        kind="push",
        address=token,
        source="staff",
        actor=Actor.system("test"),
        verified=True,
    )
    _client, issued = api_client_create(name="push", channel_codes=["push"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    _seq, rows = _snapshot(http, channel="push")
    assert [r["identifier"] for r in rows] == [token]
    response = http.get(SNAPSHOT, {"channel": "push", "format": "csv"})
    text = b"".join(response.streaming_content).decode()
    assert [r["identifier"] for r in csv.DictReader(io.StringIO(text))] == [token]
    page = http.get(CHANGES, {"channel": "push"}).json()
    assert page["results"][-1]["identifier"] == token
