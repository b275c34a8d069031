"""The hash-chained consent ledger: appending rows and verifying the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from consent.models import ConsentEvent, LedgerHead

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who made a change: ``customer:REF``, ``staff:username``, ``client:name``."""

    kind: str
    ident: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ident}"

    @classmethod
    def customer(cls, customer) -> Actor:
        return cls("customer", customer.external_ref)

    @classmethod
    def staff(cls, user) -> Actor:
        return cls("staff", user.get_username())

    @classmethod
    def client(cls, name: str) -> Actor:
        return cls("client", name)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name)

    @classmethod
    def public(cls, what: str) -> Actor:
        """Someone without an account (one-click link, "not me" page)."""
        return cls("public", what)


@dataclass(frozen=True)
class Evidence:
    """How a change reached us: kept with the ledger row as proof."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_request(cls, request, **extra: str) -> Evidence:
        meta = request.META
        return cls(
            ip=meta.get("REMOTE_ADDR", ""),
            user_agent=meta.get("HTTP_USER_AGENT", "")[:300],
            request_id=meta.get("HTTP_X_REQUEST_ID", "")[:100],
            extra=tuple(sorted((k, str(v)) for k, v in extra.items())),
        )

    def as_dict(self) -> dict[str, str]:
        data = {
            "ip": self.ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
        }
        data.update(dict(self.extra))
        return {k: v for k, v in data.items() if v}


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_payload(event: ConsentEvent) -> dict:
    """The fields a row's hash covers. Ids, not codes, so renaming a code is safe.
    ``detail`` (preference changes) is covered when present."""
    payload = {
        "seq": event.seq,
        "customer": event.customer_id,
        "contact_point": event.contact_point_id,
        "channel": event.channel_id,
        "topic": event.topic_id,
        "action": event.action,
        "source": event.source,
        "actor": event.actor,
        "notice_version": event.notice_version_id,
        "evidence": event.evidence,
        "occurred_at": _ts(event.occurred_at),
        "recorded_at": _ts(event.recorded_at),
    }
    if event.detail:
        payload["detail"] = event.detail
    return payload


def _canonical(payload: dict) -> str:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def row_hash(prev_hash: str, payload: dict) -> str:
    return hashlib.sha256((prev_hash + _canonical(payload)).encode()).hexdigest()


def canonical_body_around_seq(event: ConsentEvent) -> tuple[str, str]:
    """The row's canonical JSON in two parts, before and after its ``seq``, for an
    ordering step that numbers rows in the database: ``prefix + str(seq) + suffix``
    is the body ``row_hash`` covers."""
    payload = canonical_payload(event)
    del payload["seq"]
    before = {k: v for k, v in payload.items() if k < "seq"}
    after = {k: v for k, v in payload.items() if k > "seq"}
    prefix = _canonical(before)[:-1] + ("," if before else "") + '"seq":'
    suffix = ("," if after else "") + _canonical(after)[1:]
    return prefix, suffix


def lock_head() -> LedgerHead:
    """Take the writers' ordering lock (bulk loaders and repairs only; changes go
    through a unit of work, which takes it for its last few statements)."""
    head, _created = LedgerHead.objects.select_for_update().get_or_create(pk=1)
    return head


def ledger_seal(*, head: LedgerHead, events: list[ConsentEvent]) -> None:
    """Number and chain these rows after the head's position (the head is held)."""
    for event in events:
        event.seq = head.ledger_seq + 1
        event.prev_hash = head.ledger_hash
        event.hash = row_hash(event.prev_hash, canonical_payload(event))
        head.ledger_seq = event.seq
        head.ledger_hash = event.hash


@dataclass(frozen=True)
class LedgerBreak:
    seq: int
    reason: str


def verify_chain(events: Iterator[ConsentEvent]) -> tuple[int, LedgerBreak | None]:
    """Walk the chain in sequence order; return rows checked and the first break."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return checked, LedgerBreak(event.seq, f"expected seq {expected_seq}")
        if event.prev_hash != prev_hash:
            return checked, LedgerBreak(event.seq, "prev_hash does not match")
        if row_hash(prev_hash, canonical_payload(event)) != event.hash:
            return checked, LedgerBreak(event.seq, "content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    return checked, None
