"""Consent receipts: proof a customer can keep of one grant or withdrawal.

The fields follow ISO/IEC TS 27560 and the Kantara consent receipt: the controller,
the purposes (channel x product), the notice version and its SHA-256, when and how
it was given, and the ledger row it is. The receipt carries the row's canonical
payload and hash, so anyone can recompute the hash, and the first signed checkpoint
that covers the row once one is sealed. The receipt itself is signed with the
ledger's Ed25519 key: changing any field breaks the signature.

``receipt_verify`` checks a receipt against the ledger and the checkpoints
(``manage.py verify_receipt FILE``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from consent.catalogue import catalogue
from consent.checkpoints import checkpoint_as_dict, signing_key, statement
from consent.ledger import canonical_payload, row_hash
from consent.models import ConsentEvent, Customer, LedgerCheckpoint

SCHEMA = "consent-receipt/1 (ISO/IEC TS 27560; Kantara CR v1.1)"

# Ledger rows a receipt is given for.
RECEIPT_ACTIONS = (
    ConsentEvent.Action.GRANT,
    ConsentEvent.Action.WITHDRAW,
    ConsentEvent.Action.OPT_OUT_ALL,
    ConsentEvent.Action.OPT_IN_ALL,
)

MSG_NO_RECEIPT = _("There is no receipt for this entry.")


def _canonical(data: dict) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _purposes(event: ConsentEvent) -> list[dict]:
    """Every (channel, product) cell the row is about: one, or all the marketing
    products of a channel, or every marketing cell."""
    current = catalogue()
    channels = [event.channel] if event.channel_id else list(current.channels)
    if event.topic_id:
        topics = [event.topic]
    else:
        topics = [t for t in current.topics if t.is_marketing]
    return [
        {
            "channel": channel.code,
            "channel_name": {"en": channel.name_en, "zh-hans": channel.name_zh},
            "product": topic.code,
            "product_name": {"en": topic.name_en, "zh-hans": topic.name_zh},
            "purpose_category": "marketing",
            "consent_type": "explicit",
        }
        for channel in channels
        for topic in topics
    ]


def covering_checkpoint(seq: int) -> LedgerCheckpoint | None:
    return (
        LedgerCheckpoint.objects.filter(ledger_seq__gte=seq)
        .order_by("ledger_seq")
        .first()
    )


def receipt_event(*, customer: Customer, seq: int) -> ConsentEvent | None:
    """The customer's own grant or withdrawal at this ledger position."""
    return (
        ConsentEvent.objects.filter(
            customer=customer, seq=seq, action__in=RECEIPT_ACTIONS
        )
        .select_related("channel", "topic", "notice_version", "customer")
        .first()
    )


def receipt_latest(*, customer: Customer) -> ConsentEvent | None:
    return (
        ConsentEvent.objects.filter(customer=customer, action__in=RECEIPT_ACTIONS)
        .select_related("channel", "topic", "notice_version", "customer")
        .order_by("-seq")
        .first()
    )


def receipt_build(event: ConsentEvent) -> dict:
    """The receipt of one ledger row, signed."""
    notice = event.notice_version
    checkpoint = covering_checkpoint(event.seq)
    key = signing_key()
    receipt = {
        "schema": SCHEMA,
        "receipt_id": f"urn:consent-receipt:{event.hash}",
        "controller": {
            "name": settings.CONSENT_CONTROLLER_NAME,
            "contact": settings.CONSENT_CONTROLLER_CONTACT,
            "url": settings.SITE_BASE_URL,
        },
        "subject": {"customer_ref": event.customer.external_ref},
        "action": event.action,
        "state": "granted"
        if event.action in (ConsentEvent.Action.GRANT, ConsentEvent.Action.OPT_IN_ALL)
        else "withdrawn",
        "purposes": _purposes(event)
        if event.action != ConsentEvent.Action.OPT_IN_ALL
        else [],
        "notice": {
            "code": notice.code,
            "version": notice.version,
            "language": notice.language,
            "sha256": notice.sha256,
        }
        if notice
        else None,
        "time": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "method": event.source,
        "actor": event.actor,
        "ledger": {
            "seq": event.seq,
            "prev_hash": event.prev_hash,
            "hash": event.hash,
            "payload": canonical_payload(event),
        },
        "checkpoint": checkpoint_as_dict(checkpoint) if checkpoint else None,
        "signing_key": {"key_id": key.key_id, "public_key": key.public_b64},
    }
    receipt["signature"] = base64.b64encode(key.private.sign(_canonical(receipt)))
    receipt["signature"] = receipt["signature"].decode()
    return receipt


def _check_signature(receipt: dict) -> list[str]:
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        public = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(receipt["signing_key"]["public_key"])
        )
        public.verify(base64.b64decode(receipt["signature"]), _canonical(body))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return ["the receipt's signature does not verify"]
    if receipt["signing_key"]["public_key"] != signing_key().public_b64:
        return ["the receipt is signed with a key this ledger does not use"]
    return []


def _check_chain(start: int, end: int, start_hash: str, end_hash: str) -> bool:
    """Rows start..end chain from ``start_hash`` to ``end_hash`` in the ledger."""
    prev = start_hash
    expected = start + 1
    rows = ConsentEvent.objects.filter(seq__gt=start, seq__lte=end).order_by("seq")
    for row in rows.iterator():
        if row.seq != expected or row.prev_hash != prev:
            return False
        if row_hash(prev, canonical_payload(row)) != row.hash:
            return False
        prev, expected = row.hash, expected + 1
    return expected == end + 1 and prev == end_hash


def receipt_verify(receipt: dict) -> tuple[list[str], list[str]]:
    """Check a receipt; returns (problems, notes). No problems: the receipt is
    authentic and the ledger still holds the row it names."""
    problems: list[str] = []
    notes: list[str] = []
    try:
        ledger = receipt["ledger"]
        seq, payload = ledger["seq"], ledger["payload"]
    except (KeyError, TypeError):
        return ["not a consent receipt"], notes
    problems += _check_signature(receipt)
    if row_hash(ledger["prev_hash"], payload) != ledger["hash"]:
        problems.append("the ledger payload does not match its hash")
    row = ConsentEvent.objects.filter(seq=seq).first()
    if row is None:
        problems.append(f"ledger row {seq} is missing")
        return problems, notes
    if row.hash != ledger["hash"] or row.prev_hash != ledger["prev_hash"]:
        problems.append(f"ledger row {seq} differs from the receipt")
    elif row_hash(row.prev_hash, canonical_payload(row)) != row.hash:
        problems.append(f"ledger row {seq} no longer matches its hash")
    notice = receipt.get("notice")
    if notice and (
        row.notice_version is None or row.notice_version.sha256 != notice["sha256"]
    ):
        problems.append("the notice version differs from the ledger's")
    checkpoint = receipt.get("checkpoint")
    if checkpoint is None:
        current = covering_checkpoint(seq)
        notes.append(
            "the receipt predates the checkpoint that covers its row; download it "
            "again for the signed checkpoint"
            if current
            else "no checkpoint covers this row yet"
        )
        return problems, notes
    stored = LedgerCheckpoint.objects.filter(
        ledger_seq=checkpoint["ledger_seq"]
    ).first()
    if stored is None or stored.hash != checkpoint["hash"]:
        problems.append("the checkpoint is not the one the ledger holds")
    problems += _check_checkpoint(checkpoint, receipt["signing_key"]["public_key"])
    if checkpoint["ledger_seq"] < seq:
        problems.append("the checkpoint does not cover the row")
    elif not _check_chain(
        seq, checkpoint["ledger_seq"], row.hash, checkpoint["ledger_hash"]
    ):
        problems.append("the ledger does not chain from the row to the checkpoint")
    return problems, notes


def _check_checkpoint(checkpoint: dict, public_key_b64: str) -> list[str]:
    """One checkpoint on its own: signed by the key, its hash its statement's.
    (Its link to the checkpoint before is ``verify_ledger``'s check of the whole
    chain.)"""
    try:
        body = statement(
            ledger_seq=checkpoint["ledger_seq"],
            ledger_hash=checkpoint["ledger_hash"],
            prev_hash=checkpoint["prev_hash"],
            created_at=datetime.fromisoformat(checkpoint["created_at"]),
        )
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(checkpoint["signature"]), body)
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return ["the checkpoint's signature does not verify"]
    if hashlib.sha256(body).hexdigest() != checkpoint["hash"]:
        return ["the checkpoint's hash does not match its statement"]
    return []
