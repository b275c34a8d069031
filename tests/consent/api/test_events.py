from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent import services
from consent.api_clients import api_client_create
from consent.contactability import Reason
from consent.ledger import Actor, verify_chain
from consent.models import (
    ConsentEvent,
    ConsentState,
    Contactability,
    ContactPoint,
    InboundEvent,
    LedgerHead,
    OptOut,
    SuppressionChange,
)
from tests.factories import CustomerFactory, add_email, add_phone, grant

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
CHANGES = "/api/v1/suppression/changes"
NUMBER = "+8613800138000"


def post(api: APIClient, **body):
    return api.post(EVENTS, body, format="json")


def sms_key(sms) -> Contactability:
    return Contactability.objects.get(channel=sms, identifier=NUMBER)


def state(customer, channel, topic) -> str | None:
    row = ConsentState.objects.filter(
        customer=customer, channel=channel, topic=topic
    ).first()
    return row.status if row else None


def counts() -> tuple[int, int, int, int]:
    return (
        ConsentEvent.objects.count(),
        ConsentState.objects.count(),
        SuppressionChange.objects.count(),
        InboundEvent.objects.count(),
    )


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["fields"]


@pytest.fixture
def granted(customer, phone_point, sms, credit_card, notice_en):
    grant(customer, sms, credit_card, notice_en)
    assert "credit_card" in sms_key(sms).permitted_topics
    return customer


# --- STOP -----------------------------------------------------------------------------


def test_stop_withdraws_sms_marketing_and_is_in_the_feed_when_the_response_returns(
    api, sender, granted, sms, credit_card
):
    response = post(
        api, type="sms_reply", event_id="gw-1", recipient="13800138000", text="退订"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["effect"] == "stop"
    assert body["needs_review"] is False
    assert body["customers"] == 1 and body["consents_changed"] == 1
    assert (
        body["reply_text"] == "You have unsubscribed from marketing SMS and will "
        "get no more. Reply START to undo."
    )
    withdrawal = ConsentEvent.objects.order_by("seq").last()
    assert withdrawal.action == "withdraw" and withdrawal.source == "sms_keyword"
    assert withdrawal.channel == sms and withdrawal.topic is None
    assert withdrawal.actor == "client:sms-gateway"
    assert withdrawal.evidence["event_id"] == "gw-1"
    assert withdrawal.contact_point.address == NUMBER
    assert state(granted, sms, credit_card) == "withdrawn"
    key = sms_key(sms)
    assert key.suppressed and key.topic_reasons["credit_card"] == [Reason.WITHDRAWN]
    feed_row = SuppressionChange.objects.get(seq=body["feed_seq"])
    assert feed_row.key == key and feed_row.suppressed is True

    # A sender polling the feed sees the stop at once.
    page = api.get(CHANGES, {"channel": "sms", "after": body["feed_seq"] - 1}).json()
    rows = [r for r in page["results"] if r["identifier"] == NUMBER]
    assert rows and rows[-1]["seq"] == body["feed_seq"] and rows[-1]["suppressed"]
    assert "credit_card" not in rows[-1]["permitted_topics"]


@pytest.mark.django_db(transaction=True)
def test_a_stop_runs_at_most_four_statements(api, sender, granted, sms, credit_card):
    """The stop->feed latency is mostly round trips. On PostgreSQL a STOP is: one
    statement locking the holders' customers and then their keys, with the event
    id's first use and a ledger id per holder (and the transaction's BEGIN); the
    consent update; every refresh input in one statement; one statement that locks
    the head and writes ledger, keys, feed, check keys, the event row and the head
    (with the COMMIT). The API key and the catalogue are kept per process (no
    statement)."""
    post(api, type="sms_reply", event_id="gw-0", recipient=NUMBER, text="HELP")
    with CaptureQueriesContext(connection) as statements:
        response = post(
            api, type="sms_reply", event_id="gw-1", recipient=NUMBER, text="STOP"
        )
    sql = [
        q["sql"]
        for q in statements.captured_queries
        if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")
    ]
    # SQLite reads the refresh inputs one query each (no JSON aggregation path).
    assert len(sql) <= (4 if connection.vendor == "postgresql" else 17), sql
    assert response.status_code == 201
    body = response.json()
    assert body["effect"] == "stop" and body["consents_changed"] == 1
    assert state(granted, sms, credit_card) == "withdrawn"
    feed_row = SuppressionChange.objects.get(seq=body["feed_seq"])
    assert feed_row.key == sms_key(sms) and feed_row.suppressed is True


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="server-side prepared statements"
)
@pytest.mark.django_db(transaction=True)
def test_the_stop_statements_are_prepared_once_per_connection(
    api, sender, granted, sms, credit_card
):
    """Planning cost more than running the STOP's statements: they are prepared on
    the connection and a later STOP runs the prepared plans again."""
    post(api, type="sms_reply", event_id="gw-0", recipient=NUMBER, text="STOP")
    post(api, type="sms_reply", event_id="gw-1", recipient=NUMBER, text="START")
    post(api, type="sms_reply", event_id="gw-2", recipient=NUMBER, text="STOP")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
        )
        runs = dict(cursor.fetchall())
    ordering = [n for sql, n in runs.items() if "FOR UPDATE" in sql and "chain" in sql]
    refresh = [n for sql, n in runs.items() if "WITH idx AS" in sql]
    assert ordering and max(ordering) >= 2, runs
    assert refresh and max(refresh) >= 2, runs


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="server-side prepared statements"
)
@pytest.mark.django_db(transaction=True)
def test_the_long_stop_statements_are_converted_once_per_process(
    api, sender, granted, sms, credit_card
):
    """psycopg re-parses the placeholders of a statement over 4 kB on every run; the
    write path's cursor converts each of its statements once."""
    from consent import prepared

    post(api, type="sms_reply", event_id="gw-0", recipient=NUMBER, text="STOP")
    post(api, type="sms_reply", event_id="gw-1", recipient=NUMBER, text="START")
    before = prepared._converted.cache_info()
    post(api, type="sms_reply", event_id="gw-2", recipient=NUMBER, text="STOP")
    after = prepared._converted.cache_info()
    assert after.hits - before.hits >= 3, (before, after)
    assert after.misses == before.misses, (before, after)


def test_one_stop_on_a_shared_number_withdraws_every_linked_customer(
    api, sms, credit_card, personal_loan, notice_en
):
    first, second = CustomerFactory(), CustomerFactory(preferred_language="zh-hans")
    add_phone(first, NUMBER)
    add_phone(second, "138 0013 8000")
    grant(first, sms, credit_card, notice_en)
    grant(second, sms, personal_loan, notice_en)

    body = post(
        api, type="sms_reply", event_id="gw-2", recipient=NUMBER, text="STOP"
    ).json()

    assert body["customers"] == 2 and body["consents_changed"] == 2
    assert state(first, sms, credit_card) == "withdrawn"
    assert state(second, sms, personal_loan) == "withdrawn"
    assert (
        ConsentEvent.objects.filter(action="withdraw", source="sms_keyword")
        .values_list("customer", flat=True)
        .distinct()
        .count()
        == 2
    )
    assert sms_key(sms).suppressed is True
    # Both withdrawals advanced the one head the event holds: it matches the rows,
    # the chain verifies and the response names the last feed row.
    head = LedgerHead.objects.get(pk=1)
    assert head.ledger_seq == ConsentEvent.objects.order_by("-seq").first().seq
    assert head.feed_seq == SuppressionChange.objects.order_by("-seq").first().seq
    assert body["feed_seq"] == head.feed_seq
    assert verify_chain(ConsentEvent.objects.order_by("seq").iterator())[1] is None
    # Holders speak different languages: one text carrying both.
    assert "退订" in body["reply_text"] and "unsubscribed" in body["reply_text"]


def test_stop_in_the_customers_language(api, sms):
    customer = CustomerFactory(preferred_language="zh-hans")
    add_phone(customer, NUMBER)
    body = post(
        api, type="sms_reply", event_id="gw-3", recipient=NUMBER, text="ＴＤ"
    ).json()
    assert body["effect"] == "stop"
    assert body["reply_text"].startswith("您已退订营销短信")
    assert "\n" not in body["reply_text"]


def test_plain_language_stop_withdraws_and_is_flagged_for_review(
    api, granted, sms, credit_card
):
    body = post(
        api, type="sms_reply", event_id="gw-4", recipient=NUMBER, text="不要再给我发了"
    ).json()

    assert body["effect"] == "stop" and body["needs_review"] is True
    assert state(granted, sms, credit_card) == "withdrawn"
    event = InboundEvent.objects.get(event_id="gw-4")
    assert event.needs_review is True and event.effect == "stop"
    assert event.payload["text"] == "不要再给我发了"


def test_stop_leaves_other_channels_alone(
    api, granted, email_channel, credit_card, notice_en
):
    add_email(granted, "li.wei@example.com")
    grant(granted, email_channel, credit_card, notice_en)
    post(api, type="sms_reply", event_id="gw-5", recipient=NUMBER, text="stop")
    assert state(granted, email_channel, credit_card) == "granted"


# --- START, HELP, other text ----------------------------------------------------------


def test_start_restores_only_what_the_keyword_withdrew(
    api, customer, phone_point, sms, credit_card, personal_loan, notice_en
):
    original = grant(customer, sms, credit_card, notice_en)
    grant(customer, sms, personal_loan, notice_en)
    # Withdrawn in the portal before the stop: the stop did not withdraw it.
    services.consent_withdraw(
        customer=customer,
        channel=sms,
        topic=personal_loan,
        source="portal",
        actor=Actor.customer(customer),
    )
    post(api, type="sms_reply", event_id="gw-10", recipient=NUMBER, text="STOP")

    body = post(
        api, type="sms_reply", event_id="gw-11", recipient=NUMBER, text="Start"
    ).json()

    assert body["effect"] == "start" and body["consents_changed"] == 1
    assert state(customer, sms, credit_card) == "granted"
    assert state(customer, sms, personal_loan) == "withdrawn"
    regrant = ConsentEvent.objects.order_by("seq").last()
    assert regrant.action == "grant" and regrant.source == "sms_keyword"
    assert regrant.notice_version_id == original.notice_version_id
    assert regrant.evidence["restores_grant"] == str(original.seq)
    assert sms_key(sms).permitted_topics.count("credit_card") == 1
    assert body["reply_text"].startswith("Marketing SMS you had stopped")


def test_start_does_not_undo_a_withdrawal_made_after_the_stop(
    api, granted, sms, credit_card
):
    post(api, type="sms_reply", event_id="gw-12", recipient=NUMBER, text="STOP")
    services.consent_withdraw(
        customer=granted,
        channel=sms,
        topic=credit_card,
        source="portal",
        actor=Actor.customer(granted),
    )
    before = counts()
    body = post(
        api, type="sms_reply", event_id="gw-13", recipient=NUMBER, text="START"
    ).json()
    assert body["consents_changed"] == 0
    assert state(granted, sms, credit_card) == "withdrawn"
    assert counts()[:3] == before[:3]
    assert body["reply_text"].startswith("There was no SMS stop to undo")


def test_start_never_lifts_stop_all_marketing(api, granted, sms, credit_card):
    post(api, type="sms_reply", event_id="gw-14", recipient=NUMBER, text="STOP")
    services.consent_opt_out_all(
        customer=granted, source="portal", actor=Actor.customer(granted)
    )
    body = post(
        api, type="sms_reply", event_id="gw-15", recipient=NUMBER, text="UNSTOP"
    ).json()
    assert body["effect"] == "start" and body["consents_changed"] == 0
    assert OptOut.objects.filter(customer=granted).exists()
    assert state(granted, sms, credit_card) == "withdrawn"
    assert sms_key(sms).suppressed is True


def test_start_does_not_undo_a_stop_sent_from_another_number(
    api, granted, sms, credit_card
):
    add_phone(granted, "13900139000")
    post(api, type="sms_reply", event_id="gw-16", recipient="13900139000", text="TD")
    body = post(
        api, type="sms_reply", event_id="gw-17", recipient=NUMBER, text="START"
    ).json()
    assert body["consents_changed"] == 0
    assert state(granted, sms, credit_card) == "withdrawn"


def test_help_returns_the_help_text_and_changes_nothing(api, granted):
    before = counts()
    body = post(
        api, type="sms_reply", event_id="gw-20", recipient=NUMBER, text="HELP"
    ).json()
    assert body["effect"] == "help"
    assert "STOP" in body["reply_text"] and "TD" in body["reply_text"]
    assert counts()[:3] == before[:3]


def test_other_text_is_recorded_with_no_effect(api, granted, sms):
    before = counts()
    response = post(
        api, type="sms_reply", event_id="gw-21", recipient=NUMBER, text="好的，谢谢"
    )
    assert response.status_code == 201
    assert response.json()["effect"] == "none"
    assert response.json()["reply_text"] is None
    assert counts() == (*before[:3], before[3] + 1)
    assert InboundEvent.objects.get(event_id="gw-21").effect == "none"


# --- idempotency ----------------------------------------------------------------------


def test_a_repeat_returns_the_first_result_and_changes_nothing(api, granted, sms):
    first = post(api, type="sms_reply", event_id="gw-30", recipient=NUMBER, text="STOP")
    before = counts()
    feed_before = api.get(CHANGES, {"channel": "sms"}).json()

    again = post(api, type="sms_reply", event_id="gw-30", recipient=NUMBER, text="STOP")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert counts() == before
    assert api.get(CHANGES, {"channel": "sms"}).json() == feed_before


def test_the_same_event_id_with_another_body_is_a_conflict(api, sms, notice_en):
    """A gateway reusing gw-0001 for another number must not get the first answer
    back: the second number would never be suppressed."""
    first_holder, second_holder = CustomerFactory(), CustomerFactory()
    add_phone(first_holder, "+8613700130008")
    add_phone(second_holder, "+8613700130009")
    first = post(
        api,
        type="sms_reply",
        event_id="gw-0001",
        recipient="+8613700130008",
        text="STOP",
    )
    before = counts()
    reused = post(
        api,
        type="sms_reply",
        event_id="gw-0001",
        recipient="+8613700130009",
        text="STOP",
    )
    other_text = post(
        api,
        type="sms_reply",
        event_id="gw-0001",
        recipient="+8613700130008",
        text="START",
    )
    assert first.status_code == 201
    for response in (reused, other_text):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "event_id_conflict"
        assert not response.has_header("Idempotent-Replayed")
    assert counts() == before


def test_the_same_event_id_from_another_client_is_a_different_event(api, granted):
    post(api, type="sms_reply", event_id="gw-31", recipient=NUMBER, text="HELP")
    _other, issued = api_client_create(name="dialer", channel_codes=["sms"])
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    body = post(
        other, type="sms_reply", event_id="gw-31", recipient=NUMBER, text="STOP"
    ).json()
    assert body["effect"] == "stop"
    assert InboundEvent.objects.filter(event_id="gw-31").count() == 2


# --- scope and bad input -------------------------------------------------------------


def test_a_channel_outside_the_clients_scope_is_403_and_changes_nothing(granted):
    _client, issued = api_client_create(name="esp", channel_codes=["email"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.clear}")
    before = counts()
    response = post(
        http, type="sms_reply", event_id="x-1", recipient=NUMBER, text="STOP"
    )
    assert_error(response, 403, "permission_denied")
    assert counts() == before


def test_no_key_is_401(granted):
    response = post(
        APIClient(), type="sms_reply", event_id="x-2", recipient=NUMBER, text="STOP"
    )
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "type": "sms_reply",
                "event_id": "b1",
                "recipient": "12345",
                "text": "STOP",
            },
            "recipient",
        ),
        (
            {
                "type": "sms_reply",
                "event_id": "b2",
                "recipient": "not a phone",
                "text": "STOP",
            },
            "recipient",
        ),
        ({"type": "sms_reply", "event_id": "b3", "recipient": NUMBER}, "text"),
        ({"type": "sms_reply", "recipient": NUMBER, "text": "STOP"}, "event_id"),
        (
            {
                "type": "sms_reply",
                "event_id": "  ",
                "recipient": NUMBER,
                "text": "STOP",
            },
            "event_id",
        ),
        (
            {
                "type": "sms_reply",
                "event_id": "b4",
                "recipient": NUMBER,
                "text": "STOP",
                "channel": "email",
            },
            "channel",
        ),
        (
            {
                "type": "sms_reply",
                "event_id": "b5",
                "recipient": NUMBER,
                "text": "STOP",
                "occurred_at": "2999-01-01T00:00:00Z",
            },
            "occurred_at",
        ),
        (
            {
                "type": "sms_reply",
                "event_id": "b5b",
                "recipient": NUMBER,
                "text": "STOP",
                "occurred_at": "0001-01-01T00:00:00Z",
            },
            "occurred_at",
        ),
        ({"type": "carrier_pigeon", "event_id": "b6", "recipient": NUMBER}, "type"),
        ({"event_id": "b7", "recipient": NUMBER}, "type"),
        (
            {"type": "email_unsubscribe", "event_id": "b8", "recipient": "nobody@"},
            "recipient",
        ),
        (
            {
                "type": "email_unsubscribe",
                "event_id": "b9",
                "recipient": "li.wei@example.com",
                "topic": "no_such_topic",
            },
            "topic",
        ),
        (
            {
                "type": "email_unsubscribe",
                "event_id": "b10",
                "recipient": "li.wei@example.com",
                "topic": "repayment_reminder",
            },
            "topic",
        ),
        (
            {
                "type": "bounce",
                "event_id": "b11",
                "recipient": "li.wei@example.com",
                "bounce_type": "medium",
            },
            "bounce_type",
        ),
        (
            {
                "type": "sent",
                "event_id": "b12",
                "recipient": NUMBER,
                "topic": "credit_card",
            },
            "channel",
        ),
        (
            {"type": "sent", "event_id": "b13", "recipient": NUMBER, "channel": "sms"},
            "topic",
        ),
        (
            {
                "type": "sent",
                "event_id": "b14",
                "recipient": NUMBER,
                "channel": "fax",
                "topic": "credit_card",
            },
            "channel",
        ),
    ],
)
def test_bad_input_is_400_with_field_errors_and_changes_nothing(
    api, granted, body, field
):
    before = counts()
    fields = assert_error(post(api, **body), 400, "invalid")
    assert field in fields
    assert counts() == before


def test_malformed_json_is_400_and_changes_nothing(api, granted):
    before = counts()
    response = api.post(
        EVENTS, data='{"type": "sms_reply",', content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    response = api.post(
        EVENTS, data=json.dumps([1, 2]), content_type="application/json"
    )
    assert_error(response, 400, "invalid")
    assert counts() == before


# --- e-mail unsubscribe, bounce, spam complaint ---------------------------------------


@pytest.fixture
def email_holder(customer, email_channel, credit_card, personal_loan, notice_en):
    add_email(customer, "Li.Wei@Example.com")
    grant(customer, email_channel, credit_card, notice_en)
    grant(customer, email_channel, personal_loan, notice_en)
    return customer


def email_key(email_channel) -> Contactability:
    return Contactability.objects.get(
        channel=email_channel, identifier="li.wei@example.com"
    )


def test_one_click_unsubscribe_with_a_topic_withdraws_that_topic_only(
    api, email_holder, email_channel, credit_card, personal_loan
):
    body = post(
        api,
        type="email_unsubscribe",
        event_id="esp-1",
        recipient="LI.WEI@example.com",
        topic="credit_card",
    ).json()
    assert body["effect"] == "withdraw" and body["consents_changed"] == 1
    assert body["reply_text"] is None
    assert state(email_holder, email_channel, credit_card) == "withdrawn"
    assert state(email_holder, email_channel, personal_loan) == "granted"
    event = ConsentEvent.objects.order_by("seq").last()
    assert event.source == "one_click" and event.topic == credit_card
    assert SuppressionChange.objects.get(seq=body["feed_seq"]).key == email_key(
        email_channel
    )


def test_one_click_unsubscribe_without_a_topic_withdraws_the_channel(
    api, email_holder, email_channel
):
    post(
        api, type="email_unsubscribe", event_id="esp-2", recipient="li.wei@example.com"
    )
    assert not ConsentState.objects.filter(
        customer=email_holder, channel=email_channel, status="granted"
    ).exists()
    assert email_key(email_channel).suppressed is True


def test_hard_bounce_marks_every_contact_point_with_the_address_invalid(
    api, email_holder, email_channel
):
    other = CustomerFactory()
    add_email(other, "li.wei@example.com")
    body = post(
        api,
        type="bounce",
        event_id="esp-3",
        recipient="li.wei@example.com",
        bounce_type="hard",
        diagnostic="550 5.1.1 user unknown",
    ).json()
    assert body["effect"] == "invalidate" and body["contact_points_changed"] == 2
    statuses = set(
        ContactPoint.objects.filter(kind="email").values_list("status", flat=True)
    )
    assert statuses == {"invalid"}
    key = email_key(email_channel)
    assert key.suppressed and key.reasons == [Reason.INVALID]
    assert ConsentEvent.objects.filter(action="contact_invalid").count() == 2
    assert (
        InboundEvent.objects.get(event_id="esp-3")
        .payload["diagnostic"]
        .startswith("550")
    )


def test_soft_bounce_is_recorded_only(api, email_holder):
    before = counts()
    body = post(
        api,
        type="bounce",
        event_id="esp-4",
        recipient="li.wei@example.com",
        bounce_type="soft",
    ).json()
    assert body["effect"] == "none"
    assert counts() == (*before[:3], before[3] + 1)
    assert ContactPoint.objects.get(kind="email").status == "active"


def test_spam_complaint_withdraws_the_channel_as_a_complaint(
    api, email_holder, email_channel, credit_card
):
    body = post(
        api,
        type="spam_complaint",
        event_id="esp-5",
        recipient="li.wei@example.com",
        topic="credit_card",
    ).json()
    # The whole channel: both granted products changed.
    assert body["effect"] == "withdraw" and body["consents_changed"] == 2
    assert ConsentEvent.objects.filter(
        action="withdraw",
        source="complaint",
        channel=email_channel,
        topic=None,
        evidence__event_id="esp-5",
    ).exists()
    assert not ConsentState.objects.filter(
        customer=email_holder, channel=email_channel, status="granted"
    ).exists()
    key = email_key(email_channel)
    assert key.suppressed
    assert key.topic_reasons["credit_card"] == [Reason.COMPLAINT]


def test_spam_complaint_opens_a_complaint(
    api, email_holder, email_channel, credit_card
):
    from complaints.models import Complaint

    body = post(
        api,
        type="spam_complaint",
        event_id="esp-6",
        recipient="li.wei@example.com",
        topic="credit_card",
    ).json()
    complaint = Complaint.objects.get(reference=body["complaints"][0])
    assert complaint.customer == email_holder
    assert complaint.channel == email_channel and complaint.topic == credit_card
    assert len(body["complaints"]) == 1
    # A repeat opens nothing new.
    post(api, type="spam_complaint", event_id="esp-6", recipient="li.wei@example.com")
    assert Complaint.objects.filter(customer=email_holder).count() == 1


def test_spam_complaint_from_an_unknown_address_still_opens_a_complaint(api, db):
    from complaints.models import Complaint

    body = post(
        api, type="spam_complaint", event_id="esp-7", recipient="stranger@example.com"
    ).json()
    assert body["customers"] == 0 and body["consents_changed"] == 0
    assert Complaint.objects.get(reference=body["complaints"][0]).customer is None


def test_an_event_for_an_unknown_recipient_is_recorded(api, sms):
    body = post(
        api, type="sms_reply", event_id="gw-40", recipient="13900139000", text="STOP"
    ).json()
    assert body["effect"] == "stop" and body["customers"] == 0
    assert "退订" in body["reply_text"] and "unsubscribed" in body["reply_text"]
    assert InboundEvent.objects.get(event_id="gw-40").blind_index == (
        ContactPoint.index_for("phone", "+8613900139000")
    )


# --- concurrency (PostgreSQL) ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicates_apply_once_and_all_get_the_first_result(
    sender, sms, credit_card, notice_en
):
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and real concurrent connections")
    first, second = CustomerFactory(), CustomerFactory()
    for person in (first, second):
        add_phone(person, NUMBER)
        grant(person, sms, credit_card, notice_en)
    before = ConsentEvent.objects.count()
    barrier = threading.Barrier(6)
    results: list[tuple[int, dict]] = []

    def push() -> None:
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {sender[1]}")
        try:
            barrier.wait()
            response = post(
                http, type="sms_reply", event_id="dup-1", recipient=NUMBER, text="STOP"
            )
            results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 6
    assert {status for status, _body in results} == {201}
    assert len({json.dumps(body, sort_keys=True) for _status, body in results}) == 1
    assert InboundEvent.objects.filter(event_id="dup-1").count() == 1
    assert ConsentEvent.objects.count() == before + 2
    assert results[0][1]["consents_changed"] == 2


# --- schema ---------------------------------------------------------------------------


def test_schema_documents_every_event_type_with_examples_and_errors(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/events"]["post"]
    assert {"201", "400", "401", "403", "429"} <= set(operation["responses"])
    for status in ("201", "400", "401", "403", "429"):
        assert operation["responses"][status]["content"]["application/json"]["examples"]
    body = operation["requestBody"]["content"]["application/json"]
    sent_types = {example["value"]["type"] for example in body["examples"].values()}
    assert sent_types == {t.value for t in InboundEvent.Type}
    mapping = schema["components"]["schemas"]["InboundEventInput"]["discriminator"]
    assert set(mapping["mapping"]) == {t.value for t in InboundEvent.Type}


def test_purge_is_scheduled():
    from config.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "consent.tasks.send_record_purge_task" in tasks
