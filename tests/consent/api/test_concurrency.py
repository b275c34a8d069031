"""The feed visibility guarantee under concurrent writers (PostgreSQL only).

Feed appends happen in the unit of work's short ordering step under the ledger head
row lock, held until commit, so rows commit in seq order: a reader polling
``changes?after=N`` can never see N+2 before N+1 commits.
Several writer threads change consents while a reader polls; at the end the reader's
copy equals the snapshot key for key and it saw every feed row of its channels.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from rest_framework.test import APIClient

from consent import services
from consent.api_clients import api_client_create
from consent.errors import ApplicationError
from consent.ledger import Actor
from consent.models import (
    Channel,
    ConsentEvent,
    ConsentState,
    NoticeVersion,
    SuppressionChange,
    Topic,
)
from consent.unit import consent_change
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WRITERS = 4
CHANGES_PER_WRITER = 40


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "Needs PostgreSQL: concurrent writers and a reader on separate "
            "connections (SQLite serialises the whole database file)."
        )


def _writer(seed: int, customers, channels, topics, notice, errors) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(CHANGES_PER_WRITER):
            customer = rng.choice(customers)
            channel, topic = rng.choice(channels), rng.choice(topics)
            roll = rng.random()
            try:
                if roll < 0.55:
                    services.consent_grant(
                        customer=customer,
                        channel=channel,
                        topic=topic,
                        source="portal",
                        actor=Actor.customer(customer),
                        notice_version=notice,
                    )
                elif roll < 0.95:
                    services.consent_withdraw(
                        customer=customer,
                        channel=channel,
                        topic=topic,
                        source="api",
                        actor=Actor.client("test"),
                    )
                else:
                    services.consent_opt_out_all(
                        customer=customer,
                        source="portal",
                        actor=Actor.customer(customer),
                    )
            except ApplicationError:
                pass  # a grant after "stop all" is refused: that is the rule
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


def _reader(http, done: threading.Event, copy: dict, seen: list, errors) -> None:
    after = 0
    try:
        while True:
            finished = done.is_set()
            page = http.get(
                "/api/v1/suppression/changes", {"after": after, "limit": 7}
            ).json()
            for row in page["results"]:
                assert row["seq"] > after
                seen.append(row["seq"])
                copy[(row["identifier"], row["channel"])] = row
                after = row["seq"]
            if finished and not page["results"]:
                return
    except Exception as exc:
        errors.append(exc)
    finally:
        connection.close()


def test_reader_polling_during_concurrent_writes_misses_nothing(postgres_only):
    sms, email = Channel.objects.get(code="sms"), Channel.objects.get(code="email")
    topics = list(
        Topic.objects.filter(code__in=["credit_card", "personal_loan", "wealth"])
    )
    notice = NoticeVersion.objects.get(code="marketing", version=1, language="en")
    customers = []
    for i in range(12):
        customer = CustomerFactory()
        add_phone(customer, f"+86137000{i:05d}")
        add_email(customer, f"c{i}@example.com")
        customers.append(customer)
    client, issued = api_client_create(
        name="reader", channel_codes=["sms", "email"], rate_per_minute=1_000_000
    )
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")

    done, errors, copy, seen = threading.Event(), [], {}, []
    reader = threading.Thread(target=_reader, args=(http, done, copy, seen, errors))
    reader.start()
    writers = [
        threading.Thread(
            target=_writer,
            args=(n, customers, [sms, email], topics, notice, errors),
        )
        for n in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert errors == []

    feed = list(
        SuppressionChange.objects.filter(channel__in=[sms, email])
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert len(feed) > WRITERS * CHANGES_PER_WRITER // 2
    assert seen == feed  # every row, once, in order: nothing skipped

    response = http.get("/api/v1/suppression/snapshot")
    snapshot = {}
    for line in b"".join(response.streaming_content).decode().splitlines():
        row = json.loads(line)
        snapshot[(row["identifier"], row["channel"])] = row
    assert int(response["X-Feed-Seq"]) >= feed[-1]
    assert copy == snapshot


# --- the unit of work: per-customer locks, a short ordering step ----------------------


def _withdraw(customer, channel, change=None, who="test"):
    return services.consent_withdraw(
        customer=customer,
        channel=channel,
        topic=None,
        source="api",
        actor=Actor.client(who),
        change=change,
    )


def _holding(customer, channel, locked: threading.Event, release: threading.Event):
    """A unit of work on ``customer`` that stays open until ``release``."""
    try:
        with consent_change(actor=Actor.client("slow"), source="api") as change:
            _withdraw(customer, channel, change, who="slow")
            locked.set()
            release.wait(10)
    finally:
        connection.close()


def _timed(fn, result: dict) -> None:
    started = time.monotonic()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '700ms'")
            result["value"] = fn()
    except OperationalError as exc:
        result["error"] = exc
    finally:
        result["seconds"] = time.monotonic() - started
        connection.close()


def test_writers_on_one_customer_serialise_and_others_do_not_wait(postgres_only):
    sms = Channel.objects.get(code="sms")
    busy, free = CustomerFactory(), CustomerFactory()
    add_phone(busy, "+8613700000101")
    add_phone(free, "+8613700000102")
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_holding, args=(busy, sms, locked, release))
    holder.start()
    assert locked.wait(10)

    other, same = {}, {}
    thread = threading.Thread(target=_timed, args=(lambda: _withdraw(free, sms), other))
    thread.start()
    thread.join()
    assert "error" not in other and other["seconds"] < 0.7  # did not wait
    thread = threading.Thread(target=_timed, args=(lambda: _withdraw(busy, sms), same))
    thread.start()
    thread.join()
    assert isinstance(same.get("error"), OperationalError)  # waited for the lock

    release.set()
    holder.join()
    later = _withdraw(busy, sms)
    events = list(
        ConsentEvent.objects.filter(customer=busy)
        .order_by("seq")
        .values_list("actor", flat=True)
    )
    assert events[-2:] == ["client:slow", "client:test"]  # commit order
    assert later.seq == ConsentEvent.objects.order_by("-seq").first().seq


def _slow_writer(customer, channel, errors) -> None:
    try:
        with consent_change(actor=Actor.client("slow"), source="api") as change:
            _withdraw(customer, channel, change)
            time.sleep(1.0)  # others commit meanwhile
    except Exception as exc:
        errors.append(exc)
    finally:
        connection.close()


def test_a_long_unit_and_shared_phones_never_let_a_reader_skip(postgres_only):
    """Writers on many customers (some sharing a phone) and one unit held open for a
    second: a reader following ``changes`` ends with exactly the snapshot."""
    sms, email = Channel.objects.get(code="sms"), Channel.objects.get(code="email")
    topics = list(Topic.objects.filter(code__in=["credit_card", "wealth"]))
    notice = NoticeVersion.objects.get(code="marketing", version=1, language="en")
    customers = []
    for i in range(10):
        customer = CustomerFactory()
        add_phone(customer, f"+86137100{i // 2:05d}")  # pairs share a phone
        add_email(customer, f"s{i}@example.com")
        customers.append(customer)
    slow = CustomerFactory()
    add_phone(slow, "+8613710000000")  # shares the first pair's phone too
    _client, issued = api_client_create(
        name="reader", channel_codes=["sms", "email"], rate_per_minute=1_000_000
    )
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")

    done, errors, copy, seen = threading.Event(), [], {}, []
    reader = threading.Thread(target=_reader, args=(http, done, copy, seen, errors))
    reader.start()
    threads = [threading.Thread(target=_slow_writer, args=(slow, sms, errors))]
    threads += [
        threading.Thread(
            target=_writer, args=(n, customers, [sms, email], topics, notice, errors)
        )
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert errors == []
    feed = list(
        SuppressionChange.objects.filter(channel__in=[sms, email])
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seen == feed
    response = http.get("/api/v1/suppression/snapshot")
    snapshot = {}
    for line in b"".join(response.streaming_content).decode().splitlines():
        row = json.loads(line)
        snapshot[(row["identifier"], row["channel"])] = row
    assert copy == snapshot
    call_command("verify_ledger", stdout=io.StringIO())
    call_command("rebuild_consent_state", stdout=io.StringIO())


def test_a_unit_inside_an_outer_transaction_commits_with_it(postgres_only):
    """The ordering step commits only a unit that is the outermost transaction:
    inside another one, the outer transaction decides, and its rollback leaves no
    consent change, ledger row or feed row behind."""
    sms = Channel.objects.get(code="sms")
    customer = CustomerFactory()
    add_phone(customer, "+8613700000201")
    rows = (ConsentEvent.objects.count(), SuppressionChange.objects.count())

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        _withdraw(customer, sms)
        assert ConsentEvent.objects.count() == rows[0] + 1
        raise Abandoned

    assert (ConsentEvent.objects.count(), SuppressionChange.objects.count()) == rows
    _withdraw(customer, sms)  # on its own it commits, with the step's COMMIT
    connection.close()  # another connection sees it: it was committed
    assert ConsentEvent.objects.count() == rows[0] + 1


def test_a_failed_ordering_step_commits_nothing(postgres_only, monkeypatch):
    """The COMMIT sent with the ordering statement does not commit a unit whose
    statement failed: here a missing ledger head, which the statement reports."""
    from django.db import DatabaseError

    sms = Channel.objects.get(code="sms")
    customer = CustomerFactory()
    add_phone(customer, "+8613700000202")
    notice = NoticeVersion.objects.filter(language="en").first()
    topic = Topic.objects.get(code="credit_card")
    grant(customer, sms, topic, notice)
    before = ConsentEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM consent_ledgerhead WHERE id = 1")
        head = cursor.fetchone()
        cursor.execute("DELETE FROM consent_ledgerhead")
    try:
        with pytest.raises(DatabaseError, match="ledger head missing"):
            _withdraw(customer, sms)
        assert ConsentEvent.objects.count() == before
        assert ConsentState.objects.get(customer=customer, topic=topic).status == (
            ConsentState.Status.GRANTED
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO consent_ledgerhead VALUES (%s, %s, %s, %s, %s)", head
            )


def _replies(seed: int, key: str, numbers: list[str], errors: list) -> None:
    """STOP and START replies through the API, each for a random shared number."""
    rng = random.Random(seed)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    try:
        for n in range(12):
            body = {
                "type": "sms_reply",
                "event_id": f"r{seed}-{n}",
                "recipient": rng.choice(numbers),
                "text": rng.choice(["STOP", "START"]),
            }
            response = http.post(
                "/api/v1/events", json.dumps(body), content_type="application/json"
            )
            assert response.status_code == 201, response.content
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


def test_replies_on_shared_numbers_and_portal_changes_never_deadlock(postgres_only):
    """Replies lock a number's holders and then their keys in the statement that
    opens them; portal-side changes lock a customer and take the keys at the end.
    Numbers shared in a ring (each customer's second number is the next one's
    first) make every pair of writers meet: all complete, the ledger verifies, and
    a reader of the feed ends with the snapshot."""
    sms = Channel.objects.get(code="sms")
    topics = list(Topic.objects.filter(code__in=["credit_card", "personal_loan"]))
    notice = NoticeVersion.objects.get(code="marketing", version=1, language="en")
    numbers = [f"+86137000031{i:02d}" for i in range(4)]
    customers = []
    for i in range(4):
        customer = CustomerFactory()
        add_phone(customer, numbers[i])
        add_phone(customer, numbers[(i + 1) % 4])
        customers.append(customer)
    _client, issued = api_client_create(
        name="gateway", channel_codes=["sms"], rate_per_minute=1_000_000
    )
    errors: list = []
    threads = [
        threading.Thread(target=_replies, args=(n, issued.clear, numbers, errors))
        for n in range(4)
    ] + [
        threading.Thread(
            target=_writer, args=(10 + n, customers, [sms], topics, notice, errors)
        )
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    call_command("verify_ledger", stdout=io.StringIO())
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    copy, after = {}, 0
    while page := http.get(
        "/api/v1/suppression/changes", {"after": after, "limit": 50}
    ).json()["results"]:
        for row in page:
            copy[(row["identifier"], row["channel"])] = row
            after = row["seq"]
    response = http.get("/api/v1/suppression/snapshot")
    snapshot = {}
    for line in b"".join(response.streaming_content).decode().splitlines():
        row = json.loads(line)
        snapshot[(row["identifier"], row["channel"])] = row
    assert set(numbers) <= {identifier for identifier, _channel in snapshot}
    assert copy == snapshot
