"""Production message backends: the HTTP SMS gateway (against a real local HTTP
server) and e-mail through Django's e-mail backend."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from consent import messaging
from consent.tasks import send_message_task


class Gateway:
    """A local SMS gateway answering from a script of (status, delay) pairs."""

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                gateway.requests.append({"headers": dict(self.headers), "body": body})
                status, delay = gateway.script.pop(0) if gateway.script else (200, 0)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "gw-1"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _backend(url, **kw):
    options = {"token": "gw-secret", "sender_id": "BANK", "timeout": 2, "backoff": 0}
    options.update(kw)
    return messaging.SmsGatewayBackend(url=url, **options)


def _message(**kw):
    fields = {
        "to": "+8613800138000",
        "kind": "phone",
        "subject": "",
        "body": "Your code is 123456",
        "purpose": "sign_in_code",
    }
    fields.update(kw)
    return messaging.Message(**fields)


def test_sms_gateway_posts_json_with_token_and_idempotency_key():
    with Gateway([(200, 0)]) as gateway:
        message = _message()
        _backend(gateway.url).send(message)
    [request] = gateway.requests
    assert request["body"] == {
        "to": "+8613800138000",
        "text": "Your code is 123456",
        "sender_id": "BANK",
        "reference": message.message_id,
    }
    assert request["headers"]["Authorization"] == "Bearer gw-secret"
    assert request["headers"]["Idempotency-Key"] == message.message_id


def test_sms_gateway_retries_server_errors_then_succeeds():
    with Gateway([(503, 0), (502, 0), (200, 0)]) as gateway:
        _backend(gateway.url, retries=3).send(_message())
    assert len(gateway.requests) == 3
    # Every attempt carries the same key, so the gateway can send once.
    assert len({r["headers"]["Idempotency-Key"] for r in gateway.requests}) == 1


def test_sms_gateway_gives_up_after_retries_with_a_retryable_error():
    with Gateway([(503, 0)] * 5) as gateway:
        with pytest.raises(messaging.MessageDeliveryError):
            _backend(gateway.url, retries=2).send(_message())
    assert len(gateway.requests) == 3


def test_sms_gateway_times_out():
    with Gateway([(200, 1.5), (200, 1.5)]) as gateway:
        started = time.monotonic()
        with pytest.raises(messaging.MessageDeliveryError) as error:
            _backend(gateway.url, timeout=0.3, retries=1).send(_message())
        assert time.monotonic() - started < 1.5
    # The error names no address.
    assert "+86" not in str(error.value)


def test_sms_gateway_refusal_is_not_retried():
    with Gateway([(400, 0), (200, 0)]) as gateway:
        with pytest.raises(messaging.MessageRejected):
            _backend(gateway.url).send(_message())
    assert len(gateway.requests) == 1


def test_unreachable_gateway_is_a_retryable_error():
    with Gateway([]) as gateway:
        url = gateway.url
    with pytest.raises(messaging.MessageDeliveryError):
        _backend(url, retries=1, timeout=0.5).send(_message())


def test_production_sender_routes_phones_to_the_gateway_and_email_to_django(
    settings,
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "noreply@bank.example"
    with Gateway([(200, 0)]) as gateway:
        settings.MESSAGE_SENDER = "production"
        settings.SMS_GATEWAY_URL = gateway.url
        send_message_task.delay(
            to="+8613800138000", kind="phone", subject="", body="Code 111111"
        )
        send_message_task.delay(
            to="alice.chen@example.com",
            kind="email",
            subject="Your code",
            body="Code 222222",
            purpose="sign_in_code",
        )
        send_message_task.delay(
            to="officer@bank.example", kind="staff", subject="Alert", body="Review"
        )
    assert [r["body"]["text"] for r in gateway.requests] == ["Code 111111"]
    assert [(m.to, m.subject, m.from_email) for m in mail.outbox] == [
        (["alice.chen@example.com"], "Your code", "noreply@bank.example"),
        (["officer@bank.example"], "Alert", "noreply@bank.example"),
    ]
    assert mail.outbox[0].extra_headers["X-Message-Purpose"] == "sign_in_code"


def test_production_email_uses_smtp_settings(settings):
    """EMAIL_URL configures Django's SMTP backend; a closed port is retryable."""
    settings.MESSAGE_SENDER = "production"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard: nothing listens
    settings.EMAIL_TIMEOUT = 1
    with pytest.raises(messaging.MessageDeliveryError):
        messaging.send_message(
            to="alice.chen@example.com", kind="email", subject="s", body="b"
        )
