"""The pluggable sender for messages the centre itself sends to people.

One-time codes, complaint acknowledgements and staff alerts all go out through
``send_message``. ``MESSAGE_SENDER`` chooses the backend:

- ``console`` prints to the terminal (the demo), ``file`` writes one file per message
  to ``MESSAGE_FILE_DIR``, ``locmem`` keeps them in ``outbox`` (tests). Production
  refuses these three (``config/checks.py``): they keep codes next to clear addresses.
- ``production`` sends phones to the HTTP SMS gateway (``SmsGatewayBackend``) and
  e-mail (customers and staff) through Django's e-mail backend (``EmailBackend``,
  SMTP from ``EMAIL_URL``).

A backend is any object with ``send(message)``. A temporary failure raises
``MessageDeliveryError`` (an ``OSError``, so ``send_message_task`` retries it with
backoff); a message the provider refuses for good raises ``MessageRejected``.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    to: str
    kind: str  # phone | email | staff
    subject: str
    body: str
    purpose: str = ""
    sent_at: str = field(default_factory=lambda: timezone.now().isoformat())
    # Sent to the provider so a retried request is delivered once.
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class MessageDeliveryError(OSError):
    """The provider could not be reached or failed; worth retrying later."""


class MessageRejected(Exception):
    """The provider refused the message itself; retrying will not help."""


class MessageBackend(Protocol):
    def send(self, message: Message) -> None: ...


outbox: list[Message] = []


class ConsoleBackend:
    def send(self, message: Message) -> None:
        sys.stdout.write(
            f"\n----- message to {message.to} ({message.purpose}) -----\n"
            f"{message.subject}\n{message.body}\n-----\n"
        )
        sys.stdout.flush()


class FileBackend:
    def send(self, message: Message) -> None:
        directory = Path(settings.MESSAGE_FILE_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{timezone.now():%Y%m%dT%H%M%S}-{message.message_id[:8]}.json"
        (directory / name).write_text(
            json.dumps(asdict(message), ensure_ascii=False, indent=2)
        )


class LocmemBackend:
    def send(self, message: Message) -> None:
        outbox.append(message)


class EmailBackend:
    """E-mail through Django's configured e-mail backend (SMTP in production)."""

    def send(self, message: Message) -> None:
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"X-Message-Purpose": message.purpose or "notice"},
        )
        # smtplib raises OSError subclasses (SMTPException included) for
        # connection and server failures: the task retries them.
        try:
            email.send(fail_silently=False)
        except OSError as exc:
            raise MessageDeliveryError(
                f"e-mail not accepted: {type(exc).__name__}"
            ) from exc


class SmsGatewayBackend:
    """An HTTP SMS gateway: one JSON POST per message, bearer token, timeout and
    retries with exponential backoff on connection errors, 429 and 5xx.

    Request body: ``{"to": "+86…", "text": "…", "sender_id": "…", "reference":
    "<message id>"}`` with an ``Idempotency-Key`` header carrying the same id, so a
    gateway that saw a request whose answer was lost does not send twice.
    """

    RETRY_STATUSES = (429, 500, 502, 503, 504)

    def __init__(
        self,
        *,
        url: str,
        token: str = "",
        sender_id: str = "",
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.sender_id = sender_id
        self.session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            status_forcelist=self.RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_settings(cls) -> SmsGatewayBackend:
        return cls(
            url=settings.SMS_GATEWAY_URL,
            token=settings.SMS_GATEWAY_TOKEN,
            sender_id=settings.SMS_GATEWAY_SENDER_ID,
            timeout=settings.SMS_GATEWAY_TIMEOUT,
            retries=settings.SMS_GATEWAY_RETRIES,
            backoff=settings.SMS_GATEWAY_BACKOFF,
        )

    def send(self, message: Message) -> None:
        text = (
            message.body
            if not message.subject
            else f"{message.subject}\n{message.body}"
        )
        try:
            response = self.session.post(
                self.url,
                json={
                    "to": message.to,
                    "text": text,
                    "sender_id": self.sender_id,
                    "reference": message.message_id,
                },
                headers={"Idempotency-Key": message.message_id},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            # The exception text can carry the URL's query; keep only its type.
            raise MessageDeliveryError(
                f"SMS gateway unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code in self.RETRY_STATUSES:
            raise MessageDeliveryError(f"SMS gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise MessageRejected(f"SMS gateway refused: {response.status_code}")


class ProductionBackend:
    """Phones to the SMS gateway; customer and staff e-mail through Django."""

    def __init__(self) -> None:
        self.sms = SmsGatewayBackend.from_settings()
        self.email = EmailBackend()

    def send(self, message: Message) -> None:
        if message.kind == "phone":
            self.sms.send(message)
        elif "@" in message.to:
            self.email.send(message)
        else:
            # A staff member without an e-mail address: nothing can reach them.
            logger.warning("message_undeliverable", extra={"purpose": message.purpose})


BACKENDS: dict[str, type] = {
    "console": ConsoleBackend,
    "file": FileBackend,
    "locmem": LocmemBackend,
    "production": ProductionBackend,
}

_backend_cache: dict[tuple, MessageBackend] = {}


def get_backend() -> MessageBackend:
    """The configured backend, built once per process and settings (the gateway's
    connection pool is reused)."""
    key = (
        settings.MESSAGE_SENDER,
        settings.SMS_GATEWAY_URL,
        settings.SMS_GATEWAY_TIMEOUT,
        settings.SMS_GATEWAY_RETRIES,
        settings.EMAIL_BACKEND,
    )
    backend = _backend_cache.get(key)
    if backend is None:
        backend = _backend_cache[key] = BACKENDS[settings.MESSAGE_SENDER]()
    return backend


def send_message(
    *, to: str, kind: str, subject: str, body: str, purpose: str = ""
) -> Message:
    """Deliver now through the configured backend. Call it from a Celery task."""
    message = Message(to=to, kind=kind, subject=subject, body=body, purpose=purpose)
    get_backend().send(message)
    return message
