"""The pluggable sender for messages the centre itself sends to people.

One-time codes, complaint acknowledgements and staff alerts all go out through
``send_message``. ``MESSAGE_SENDER`` chooses the backend: ``console`` prints to the
terminal (the demo), ``file`` writes one file per message to ``MESSAGE_FILE_DIR``,
``locmem`` keeps them in ``outbox`` (tests). A production deployment adds a backend
for its SMS gateway and e-mail platform here.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Message:
    to: str
    kind: str  # phone | email | staff
    subject: str
    body: str
    purpose: str = ""
    sent_at: str = field(default_factory=lambda: timezone.now().isoformat())


outbox: list[Message] = []


def _console(message: Message) -> None:
    sys.stdout.write(
        f"\n----- message to {message.to} ({message.purpose}) -----\n"
        f"{message.subject}\n{message.body}\n-----\n"
    )
    sys.stdout.flush()


def _file(message: Message) -> None:
    directory = Path(settings.MESSAGE_FILE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(asdict(message), ensure_ascii=False, indent=2))


def _locmem(message: Message) -> None:
    outbox.append(message)


BACKENDS = {"console": _console, "file": _file, "locmem": _locmem}


def send_message(
    *, to: str, kind: str, subject: str, body: str, purpose: str = ""
) -> Message:
    """Deliver now through the configured backend. Call it from a Celery task."""
    message = Message(to=to, kind=kind, subject=subject, body=body, purpose=purpose)
    BACKENDS[settings.MESSAGE_SENDER](message)
    return message
