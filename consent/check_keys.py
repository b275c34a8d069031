"""The check's narrow keys: how a key's state is packed for the send-time lookup.

One row per (channel, identifier) beside the wide ``Contactability`` row, written in
the same statement batch by the unit of work. ``pack`` is the only encoder and
``CheckKeyRow.answer`` the only decoder: a topic is permitted when its bit
(``Topic.bit``) is set in ``permitted``; otherwise its reasons are the 16-bit mask at
``held[2 * bit]`` (little-endian), or the key's own ``reasons`` mask when the topic
was added to the catalogue after the key was last computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection

from consent.contactability import KeyState, Reason
from consent.models import CheckKey

_REASON_BITS = {reason: 1 << i for i, reason in enumerate(Reason.ALL)}


def reasons_mask(reasons: Iterable[str]) -> int:
    mask = 0
    for reason in reasons:
        mask |= _REASON_BITS[reason]
    return mask


@lru_cache(maxsize=1024)
def _reasons_of(mask: int) -> tuple[str, ...]:
    return tuple(sorted(reason for reason, bit in _REASON_BITS.items() if mask & bit))


def reasons_of(mask: int) -> list[str]:
    """The reason codes in a mask, sorted."""
    return list(_reasons_of(mask))


def pack(
    *, channel_id: int, blind_index: str, state: KeyState, bits: Mapping[str, int]
) -> CheckKey:
    """The narrow row for one key state. ``bits``: topic code -> ``Topic.bit``."""
    permitted = 0
    for code in state.permitted_topics:
        if code in bits:
            permitted |= 1 << bits[code]
    width = max(bits.values(), default=-1) + 1
    held = bytearray(2 * width)
    for code, reasons in state.topic_reasons.items():
        bit = bits.get(code)
        if bit is not None and code not in state.permitted_topics:
            held[2 * bit : 2 * bit + 2] = reasons_mask(reasons).to_bytes(2, "little")
    quiet = state.quiet_hours or {}
    return CheckKey(
        channel_id=channel_id,
        digest=bytes.fromhex(blind_index),
        permitted=permitted,
        held=bytes(held),
        reasons=reasons_mask(state.reasons),
        quiet_start=quiet.get("start", ""),
        quiet_end=quiet.get("end", ""),
        quiet_tz=quiet.get("tz", "") if quiet else "",
        max_per_week=state.max_per_week,
    )


# What an upsert replaces in a narrow row (all but its key).
STATE_FIELDS = (
    "permitted",
    "held",
    "reasons",
    "quiet_start",
    "quiet_end",
    "quiet_tz",
    "max_per_week",
)


def write(rows: list[CheckKey]) -> None:
    """Insert or replace these narrow rows (one statement per 500)."""
    if rows:
        CheckKey.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["channel_id", "digest"],
            update_fields=STATE_FIELDS,
            batch_size=500,
        )


@dataclass(frozen=True, slots=True)
class CheckKeyRow:
    """One key as the check reads it."""

    permitted: int
    held: bytes
    reasons: int
    quiet_hours: dict | None
    max_per_week: int | None

    def answer(self, bit: int) -> tuple[bool, list[str]]:
        """(permitted, reasons it is held) for the topic with this bit."""
        if self.permitted >> bit & 1:
            return True, []
        mask = int.from_bytes(self.held[2 * bit : 2 * bit + 2], "little")
        return False, reasons_of(mask or self.reasons)


# The digests go as one hex string split and decoded by the server: adapting a
# 1,000-element array parameter element by element cost more client time than the
# lookup. Digests are hex, so the comma is a safe separator.
_PG_FETCH = """
SELECT encode(digest, 'hex'), permitted, held, reasons, quiet_start, quiet_end,
    quiet_tz, max_per_week
FROM consent_checkkey
WHERE channel_id = %s
    AND digest = ANY(ARRAY(SELECT decode(unnest(string_to_array(%s, ',')), 'hex')))
"""


def fetch(*, channel_id: int, blind_indexes: set[str]) -> dict[str, CheckKeyRow]:
    """blind index (hex) -> its narrow row, in one statement."""
    if not blind_indexes:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_FETCH, [channel_id, ",".join(blind_indexes)])
            rows = cursor.fetchall()
    else:
        rows = CheckKey.objects.filter(
            channel_id=channel_id,
            digest__in=[bytes.fromhex(bi) for bi in blind_indexes],
        ).values_list(
            "digest",
            "permitted",
            "held",
            "reasons",
            "quiet_start",
            "quiet_end",
            "quiet_tz",
            "max_per_week",
        )
    found = {}
    windows: dict[tuple, dict] = {}  # most keys share a few quiet-hour windows
    for digest, permitted, held, reasons, start, end, tz, cap in rows:
        quiet = None
        if start:
            quiet = windows.get((start, end, tz))
            if quiet is None:
                quiet = windows[(start, end, tz)] = {
                    "start": start,
                    "end": end,
                    "tz": tz,
                }
        if not isinstance(digest, str):
            digest = bytes(digest).hex()
        found[digest] = CheckKeyRow(permitted, bytes(held), reasons, quiet, cap)
    return found


def _expected(*, chunk: int) -> Iterator[list[tuple[str, CheckKey]]]:
    """The narrow row every key should have, with its blind index, in keyset chunks
    of the wide table (memory stays flat)."""
    from consent.models import Contactability, Topic

    bits = dict(Topic.objects.values_list("code", "bit"))
    fields = list(KeyState.__dataclass_fields__)
    last = 0
    while True:
        rows = list(
            Contactability.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "channel_id", "blind_index", *fields)[:chunk]
        )
        if not rows:
            return
        yield [
            (
                blind_index,
                pack(
                    channel_id=channel_id,
                    blind_index=blind_index,
                    state=KeyState(**dict(zip(fields, values, strict=True))),
                    bits=bits,
                ),
            )
            for _pk, channel_id, blind_index, *values in rows
        ]
        last = rows[-1][0]


def rebuild(*, chunk: int = 5000) -> int:
    """Write every key's narrow row again from its wide row (after a migration or a
    restore); returns how many."""
    count = 0
    for expected in _expected(chunk=chunk):
        write([row for _bi, row in expected])
        count += len(expected)
    return count


def differences(*, chunk: int = 5000) -> list[str]:
    """Narrow rows that do not match their key's state, or have no key."""
    columns = [f.attname for f in CheckKey._meta.concrete_fields]
    stored = {
        (row["channel_id"], bytes(row["digest"])): {
            **row,
            "digest": bytes(row["digest"]),
            "held": bytes(row["held"]),
        }
        for row in CheckKey.objects.values(*columns).iterator(chunk_size=chunk)
    }
    found = []
    for expected in _expected(chunk=chunk):
        for blind_index, want in expected:
            have = stored.pop((want.channel_id, want.digest), None)
            if have != {c: getattr(want, c) for c in columns}:
                found.append(
                    f"check key {want.channel_id}:{blind_index[:12]}… differs "
                    "from its key"
                )
    found += [f"check key {ch}:{d.hex()[:12]}… has no key" for ch, d in stored]
    return found
