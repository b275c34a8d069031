"""Signed checkpoints of the ledger, after Certificate Transparency's signed tree
heads (RFC 9162): each records the ledger's position and hash at one moment, is
hash-chained to the previous one and signed with Ed25519. A copy exported outside
the database proves what the ledger held, even against a rewrite of the whole table.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.models import ConsentEvent, LedgerCheckpoint

GENESIS = "0" * 64


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_b64(self) -> str:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
        )

        raw = self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()


@lru_cache(maxsize=4)
def _key(entry: str) -> SigningKey:
    key_id, _sep, seed = entry.partition(":")
    private = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(seed))
    return SigningKey(key_id, private)


def signing_key() -> SigningKey:
    """``LEDGER_SIGNING_KEY`` is ``key_id:base64url(32-byte Ed25519 seed)``."""
    return _key(settings.LEDGER_SIGNING_KEY)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def statement(
    *, ledger_seq: int, ledger_hash: str, prev_hash: str, created_at: datetime
) -> bytes:
    """The bytes a checkpoint's hash and signature cover."""
    body = {
        "ledger_seq": ledger_seq,
        "ledger_hash": ledger_hash,
        "prev_hash": prev_hash,
        "created_at": _ts(created_at),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_seal(*, now: datetime | None = None) -> LedgerCheckpoint | None:
    """Seal the ledger's latest committed row, if it moved since the last
    checkpoint. Needs no writers' lock: it reads committed rows only. Two sealers
    racing meet on the unique position and one of them gives way."""
    last_event = (
        ConsentEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    )
    if last_event is None:
        return None
    previous = LedgerCheckpoint.objects.order_by("-ledger_seq").first()
    if previous is not None and previous.ledger_seq >= last_event[0]:
        return None
    key = signing_key()
    created_at = now or timezone.now()
    prev_hash = previous.hash if previous else GENESIS
    body = statement(
        ledger_seq=last_event[0],
        ledger_hash=last_event[1],
        prev_hash=prev_hash,
        created_at=created_at,
    )
    try:
        with transaction.atomic():
            return LedgerCheckpoint.objects.create(
                ledger_seq=last_event[0],
                ledger_hash=last_event[1],
                prev_hash=prev_hash,
                hash=hashlib.sha256(body).hexdigest(),
                key_id=key.key_id,
                signature=base64.b64encode(key.private.sign(body)).decode(),
                created_at=created_at,
            )
    except IntegrityError:
        return None


def checkpoint_as_dict(cp: LedgerCheckpoint) -> dict:
    return {
        "ledger_seq": cp.ledger_seq,
        "ledger_hash": cp.ledger_hash,
        "prev_hash": cp.prev_hash,
        "hash": cp.hash,
        "created_at": _ts(cp.created_at),
        "key_id": cp.key_id,
        "signature": cp.signature,
    }


def export_lines(checkpoints: Iterable[LedgerCheckpoint]) -> Iterator[str]:
    """JSON lines: first the public key, then every checkpoint in order."""
    key = signing_key()
    yield json.dumps({"key_id": key.key_id, "public_key": key.public_b64})
    for cp in checkpoints:
        yield json.dumps(checkpoint_as_dict(cp), sort_keys=True)


@dataclass(frozen=True)
class CheckpointProblem:
    ledger_seq: int
    reason: str


def verify_checkpoints(
    entries: list[dict], *, public_key_b64: str, ledger_hashes: dict[int, str]
) -> list[CheckpointProblem]:
    """Check a chain of checkpoints (from the database or an exported copy): each
    signed by the key, chained to the one before, and naming the hash the ledger
    holds at its position today. ``ledger_hashes`` maps position -> hash now."""
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    problems = []
    prev_hash = GENESIS
    for entry in entries:
        seq = entry["ledger_seq"]
        body = statement(
            ledger_seq=seq,
            ledger_hash=entry["ledger_hash"],
            prev_hash=entry["prev_hash"],
            created_at=datetime.fromisoformat(entry["created_at"]),
        )
        try:
            public.verify(base64.b64decode(entry["signature"]), body)
        except (InvalidSignature, ValueError):
            problems.append(CheckpointProblem(seq, "signature does not verify"))
        if (
            entry["prev_hash"] != prev_hash
            or hashlib.sha256(body).hexdigest() != (entry["hash"])
        ):
            problems.append(CheckpointProblem(seq, "checkpoint chain is broken"))
        held = ledger_hashes.get(seq)
        if held is None:
            problems.append(CheckpointProblem(seq, "ledger row is missing"))
        elif held != entry["ledger_hash"]:
            problems.append(
                CheckpointProblem(seq, "ledger hash differs from the signed one")
            )
        prev_hash = entry["hash"]
    return problems
