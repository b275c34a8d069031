"""Webhooks: signed (Standard Webhooks), in feed order, at least once, retried with
backoff, logged, and paused, resumed and replayed from the admin."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from backoffice.roles import AUDITOR, COMPLIANCE_OFFICER
from consent import crypto, services, webhooks
from consent.api_clients import api_client_create
from consent.ledger import Actor
from consent.models import (
    SenderFeedPosition,
    SuppressionChange,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.consent.webhook_receiver import start_receiver
from tests.factories import CustomerFactory, add_phone, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def client_sms(db):
    client, _issued = api_client_create(name="sms-gateway", channel_codes=["sms"])
    return client


@pytest.fixture
def hook(client_sms, receiver):
    endpoint, secret = webhooks.webhook_endpoint_create(
        client=client_sms, url=receiver.url, batch_size=2, after=0
    )
    endpoint.secret = secret
    return endpoint


def _people(n, sms, credit_card, notice):
    people = []
    for i in range(n):
        customer = CustomerFactory()
        add_phone(customer, f"+86138000{i:05d}")
        grant(customer, sms, credit_card, notice)
        people.append(customer)
    return people


def _sms_seqs(sms) -> list[int]:
    return list(
        SuppressionChange.objects.filter(channel=sms)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def _deliver(endpoint) -> webhooks.DeliveryRun:
    return webhooks.webhook_deliver(endpoint_id=endpoint.pk)


def test_rows_arrive_signed_in_feed_order_in_batches(
    hook, receiver, sms, email_channel, credit_card, notice_en
):
    _people(3, sms, credit_card, notice_en)
    # A channel the client may not read is never sent.
    other = CustomerFactory()
    from tests.factories import add_email

    add_email(other, "someone@example.com")
    grant(other, email_channel, credit_card, notice_en)

    run = _deliver(hook)
    expected = _sms_seqs(sms)
    assert run.rows == len(expected) > 2
    verifier = Webhook(hook.secret)
    for message in receiver.messages:
        payload = verifier.verify(message.body, message.headers)
        assert payload["type"] == "suppression.changes"
        assert len(payload["data"]["results"]) <= 2
        assert message.headers["webhook-id"] == (
            f"msg_{hook.pk}_{payload['data']['first_seq']}_{payload['data']['last_seq']}"
        )
    assert [row["seq"] for row in receiver.rows()] == expected
    assert {row["channel"] for row in receiver.rows()} == {"sms"}
    hook.refresh_from_db()
    assert hook.cursor == expected[-1]
    assert hook.failures == 0 and hook.last_success_at is not None
    log = WebhookDelivery.objects.filter(endpoint=hook)
    assert log.count() == len(receiver.messages)
    assert all(d.delivered and d.status_code == 204 for d in log)
    # Delivered rows count as the client's feed reads (sender lag).
    position = SenderFeedPosition.objects.get(client=hook.client)
    assert position.read_at is not None

    # Nothing new: nothing sent.
    before = len(receiver.messages)
    assert _deliver(hook).rows == 0
    assert len(receiver.messages) == before


def test_a_tampered_message_fails_verification(
    hook, receiver, sms, credit_card, notice_en
):
    _people(1, sms, credit_card, notice_en)
    _deliver(hook)
    message = receiver.messages[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(hook.secret).verify(
            message.body.replace(b"sms", b"xxx"), message.headers
        )
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.webhook_secret_new()).verify(message.body, message.headers)


def test_a_failed_batch_is_retried_with_backoff_and_the_same_id(
    hook, receiver, sms, credit_card, notice_en, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    _people(1, sms, credit_card, notice_en)
    receiver.answers = [503]
    run = _deliver(hook)
    assert run.failed and run.rows == 0
    hook.refresh_from_db()
    assert hook.cursor == 0 and hook.failures == 1
    assert hook.last_error == "HTTP 503"
    wait = hook.next_attempt_at - timezone.now()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=5)

    # Not due yet: nothing is sent.
    assert not _deliver(hook).claimed
    assert len(receiver.refused) == 1 and receiver.messages == []

    WebhookEndpoint.objects.filter(pk=hook.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert _deliver(hook).rows == len(_sms_seqs(sms))
    assert (
        receiver.messages[0].headers["webhook-id"]
        == (receiver.refused[0].headers["webhook-id"])
    )
    attempts = list(
        WebhookDelivery.objects.filter(endpoint=hook)
        .order_by("created_at", "id")
        .values_list("attempt", "delivered", "status_code")
    )
    assert attempts[:2] == [(1, False, 503), (2, True, 204)]
    hook.refresh_from_db()
    assert hook.failures == 0 and hook.next_attempt_at is None


def test_backoff_doubles_up_to_the_maximum(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    settings.WEBHOOK_RETRY_MAX_SECONDS = 60
    delays = [webhooks.retry_delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]


def test_a_receiver_that_is_down_is_logged_and_retried(
    client_sms, sms, credit_card, notice_en
):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    endpoint, _secret = webhooks.webhook_endpoint_create(
        client=client_sms, url=f"http://127.0.0.1:{closed_port}/hook", after=0
    )
    _people(1, sms, credit_card, notice_en)
    assert _deliver(endpoint).failed
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status_code is None and not delivery.delivered
    assert delivery.error == "ConnectionRefusedError"
    endpoint.refresh_from_db()
    assert endpoint.cursor == 0 and endpoint.next_attempt_at is not None


def test_pause_resume_and_replay(
    hook, receiver, sms, credit_card, notice_en, django_capture_on_commit_callbacks
):
    _people(2, sms, credit_card, notice_en)
    webhooks.webhook_endpoint_pause(endpoint=hook)
    assert not _deliver(hook).claimed
    assert receiver.messages == []
    # Resuming delivers at once (the task is queued after commit).
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_endpoint_resume(endpoint=hook)
    seqs = _sms_seqs(sms)
    assert [row["seq"] for row in receiver.rows()] == seqs

    hook.refresh_from_db()
    with pytest.raises(ValidationError):
        webhooks.webhook_endpoint_replay(endpoint=hook, after=hook.cursor + 1)
    with pytest.raises(ValidationError):
        webhooks.webhook_endpoint_replay(endpoint=hook, after=-1)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_endpoint_replay(endpoint=hook, after=seqs[1])
    assert [row["seq"] for row in receiver.rows()] == seqs + seqs[2:]


def test_hmac_identifiers_for_a_client_that_asked_for_them(
    client_sms, receiver, sms, credit_card, notice_en
):
    endpoint, _secret = webhooks.webhook_endpoint_create(
        client=client_sms, url=receiver.url, identifier_format="hmac", after=0
    )
    _people(1, sms, credit_card, notice_en)
    _deliver(endpoint)
    expected = crypto.client_hmac(client_sms.hmac_key, "+8613800000000")
    assert {row["identifier"] for row in receiver.rows()} == {expected}


def test_a_stop_after_set_up_is_pushed_by_the_dispatch(
    client_sms, receiver, sms, credit_card, notice_en
):
    (person,) = _people(1, sms, credit_card, notice_en)
    # Starts after the feed as it stands: a client that has just taken a snapshot.
    endpoint, _secret = webhooks.webhook_endpoint_create(
        client=client_sms, url=receiver.url
    )
    assert webhooks.webhook_dispatch() == 0
    services.consent_withdraw(
        customer=person,
        channel=sms,
        topic=None,
        source="portal",
        actor=Actor.customer(person),
    )
    assert webhooks.webhook_dispatch() == 1
    rows = receiver.rows()
    assert len(rows) == 1 and rows[0]["suppressed"] is True
    assert rows[0]["identifier"] == "+8613800000000"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_wakes_on_a_feed_commit(
    client_sms, receiver, sms, credit_card, notice_en
):
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL")
    from consent.feed_listener import feed_listen

    (person,) = _people(1, sms, credit_card, notice_en)
    webhooks.webhook_endpoint_create(client=client_sms, url=receiver.url)
    stop = threading.Event()
    listener = threading.Thread(
        target=feed_listen, kwargs={"stop": stop, "interval": 30}, daemon=True
    )
    listener.start()
    try:
        import time

        time.sleep(0.5)  # LISTEN is in place
        services.consent_withdraw(
            customer=person,
            channel=sms,
            topic=None,
            source="portal",
            actor=Actor.customer(person),
        )
        # Well before the 30 s tick: the notification woke it.
        assert receiver.wait_for(lambda r: len(r.rows()) == 1, timeout=10)
    finally:
        stop.set()
        listener.join(timeout=40)
    assert receiver.rows()[0]["suppressed"] is True


# --- admin ----------------------------------------------------------------------------


@pytest.fixture
def officer_http(staff_user, otp_admin_client):
    return otp_admin_client(staff_user(COMPLIANCE_OFFICER))


def test_admin_sets_up_a_webhook_and_shows_the_secret_once(
    officer_http, client_sms, receiver
):
    response = officer_http.post(
        "/admin/consent/webhookendpoint/add/",
        {
            "client": client_sms.pk,
            "url": receiver.url,
            "identifier_format": "clear",
            "batch_size": 50,
            "after": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    secrets = [w for t in texts for w in t.split() if w.startswith("whsec_")]
    assert len(secrets) == 1
    endpoint = WebhookEndpoint.objects.get(client=client_sms)
    assert webhooks.webhook_secret(endpoint) == secrets[0]
    assert secrets[0] not in endpoint.secret_encrypted
    page = officer_http.get(f"/admin/consent/webhookendpoint/{endpoint.pk}/change/")
    assert secrets[0] not in page.content.decode()


def test_admin_refuses_a_bad_url(officer_http, client_sms):
    response = officer_http.post(
        "/admin/consent/webhookendpoint/add/",
        {
            "client": client_sms.pk,
            "url": "ftp://example.com/x",
            "identifier_format": "clear",
            "batch_size": 50,
        },
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_admin_pause_resume_and_replay(
    officer_http, hook, receiver, sms, credit_card, notice_en
):
    _people(1, sms, credit_card, notice_en)
    _deliver(hook)
    hook.refresh_from_db()
    changelist = "/admin/consent/webhookendpoint/"
    officer_http.post(changelist, {"action": "pause", "_selected_action": [hook.pk]})
    hook.refresh_from_db()
    assert hook.is_paused

    replay = f"/admin/consent/webhookendpoint/{hook.pk}/replay/"
    assert officer_http.get(replay).status_code == 200
    ahead = officer_http.post(replay, {"after": hook.cursor + 5})
    assert ahead.status_code == 200
    assert "only go back" in ahead.content.decode()
    done = officer_http.post(replay, {"after": 0})
    assert done.status_code == 302
    hook.refresh_from_db()
    assert hook.cursor == 0

    officer_http.post(changelist, {"action": "resume", "_selected_action": [hook.pk]})
    hook.refresh_from_db()
    assert not hook.is_paused

    log = officer_http.get("/admin/consent/webhookdelivery/")
    assert log.status_code == 200 and f"msg_{hook.pk}_" in log.content.decode()


def test_an_auditor_sees_webhooks_but_changes_nothing(
    staff_user, otp_admin_client, hook
):
    auditor = otp_admin_client(staff_user(AUDITOR))
    assert auditor.get("/admin/consent/webhookendpoint/").status_code == 200
    replay = f"/admin/consent/webhookendpoint/{hook.pk}/replay/"
    assert auditor.post(replay, {"after": 0}).status_code == 403
    assert auditor.get("/admin/consent/webhookendpoint/add/").status_code == 403
