"""Reads for sending systems: the feed, the snapshot, batch checks and feed status.

Rows are returned as plain dicts in the published shape: sync pages run to 10,000
rows and per-row model or serializer objects would cost more than the query.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from consent import check_keys, crypto
from consent.check_keys import CheckKeyRow
from consent.contactability import Reason
from consent.decision import QuietHours, send_decision
from consent.identifiers import normalise_many
from consent.models import (
    Channel,
    Contactability,
    LedgerHead,
    SendRecord,
    SuppressionChange,
    Topic,
)

FIELDS = (
    "seq",
    "identifier",
    "channel",
    "suppressed",
    "permitted_topics",
    "reasons",
    "paused_until",
    "quiet_hours",
    "max_per_week",
    "personalisation",
    "updated_at",
)
FREQUENCY_WINDOW = timedelta(days=7)
SNAPSHOT_CHUNK = 5000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def iso(value: datetime | None) -> str | None:
    """One timestamp format for every API output (and the SQL-built snapshot)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _identifier_encoder(hmac_key: bytes | None):
    if hmac_key is None:
        return lambda value: value
    return lambda value: crypto.client_hmac(hmac_key, value) if value else ""


# --- changes ------------------------------------------------------------------------


def suppression_changes(
    *,
    channel_ids: dict[int, str],
    after: int,
    limit: int,
    hmac_key: bytes | None = None,
) -> list[dict]:
    """Feed rows after ``after`` in seq order: a keyset page, so cost is flat.

    Rows become visible in seq order because feed appends are serialised under the
    ledger head lock (consent.services), so no row can commit below one already seen.
    """
    encode = _identifier_encoder(hmac_key)
    rows = (
        SuppressionChange.objects.filter(channel_id__in=channel_ids, seq__gt=after)
        .order_by("seq")
        .values_list(
            "seq",
            "key__identifier",
            "channel_id",
            "suppressed",
            "permitted_topics",
            "reasons",
            "paused_until",
            "quiet_hours",
            "max_per_week",
            "personalisation",
            "created_at",
        )[:limit]
    )
    return [
        {
            "seq": seq,
            "identifier": encode(identifier),
            "channel": channel_ids[channel_id],
            "suppressed": suppressed,
            "permitted_topics": permitted,
            "reasons": reasons,
            "paused_until": iso(paused),
            "quiet_hours": quiet,
            "max_per_week": cap,
            "personalisation": personalisation,
            "updated_at": iso(at),
        }
        for (
            seq,
            identifier,
            channel_id,
            suppressed,
            permitted,
            reasons,
            paused,
            quiet,
            cap,
            personalisation,
            at,
        ) in rows
    ]


_PG_CHANGES = """
SELECT s.seq, json_build_object(
    'seq', s.seq,
    'identifier', {identifier},
    'channel', ch.code,
    'suppressed', s.suppressed,
    'permitted_topics', s.permitted_topics,
    'reasons', s.reasons,
    'paused_until', to_char(s.paused_until AT TIME ZONE 'UTC', {ts}),
    'quiet_hours', s.quiet_hours,
    'max_per_week', s.max_per_week,
    'personalisation', s.personalisation,
    'updated_at', to_char(s.created_at AT TIME ZONE 'UTC', {ts})
)::text
FROM consent_suppressionchange s
JOIN consent_contactability c ON c.id = s.key_id
JOIN consent_channel ch ON ch.id = s.channel_id
WHERE s.channel_id = ANY(%(channels)s) AND s.seq > %(after)s
ORDER BY s.seq
LIMIT %(limit)s
"""


def suppression_changes_json(
    *,
    channel_ids: Sequence[int],
    after: int,
    limit: int,
    hmac_key: bytes | None = None,
) -> tuple[list[str], int | None]:
    """PostgreSQL: the same page as :func:`suppression_changes`, each row already
    JSON text built by the database (no per-row decode and re-encode in Python).
    Returns the rows and the last seq (None when empty)."""
    sql = _PG_CHANGES.format(
        identifier=_PG_HMAC if hmac_key is not None else "c.identifier", ts=_PG_TS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "channels": list(channel_ids),
                "after": after,
                "limit": limit,
                "hmac_key": hmac_key,
            },
        )
        rows = cursor.fetchall()
    return [text for _seq, text in rows], (rows[-1][0] if rows else None)


@dataclass(frozen=True)
class FeedStatus:
    last_seq: int
    last_change_at: datetime | None


def suppression_status(*, channel_ids: Sequence[int]) -> FeedStatus:
    row = (
        SuppressionChange.objects.filter(channel_id__in=channel_ids)
        .order_by("-seq")
        .values_list("seq", "created_at")
        .first()
    )
    return FeedStatus(*row) if row else FeedStatus(0, None)


# --- snapshot -----------------------------------------------------------------------

_PG_JSON = """
SELECT json_build_object(
    'seq', c.seq,
    'identifier', {identifier},
    'channel', ch.code,
    'suppressed', c.suppressed,
    'permitted_topics', c.permitted_topics,
    'reasons', c.reasons,
    'paused_until', to_char(c.paused_until AT TIME ZONE 'UTC', {ts}),
    'quiet_hours', c.quiet_hours,
    'max_per_week', c.max_per_week,
    'personalisation', c.personalisation,
    'updated_at', to_char(c.updated_at AT TIME ZONE 'UTC', {ts})
)::text
FROM consent_contactability c JOIN consent_channel ch ON ch.id = c.channel_id
WHERE c.channel_id = ANY(%(channels)s)
"""
_PG_CSV = """
SELECT c.seq, {identifier}, ch.code, c.suppressed,
    array_to_string(ARRAY(SELECT jsonb_array_elements_text(c.permitted_topics)), ' '),
    array_to_string(ARRAY(SELECT jsonb_array_elements_text(c.reasons)), ' '),
    to_char(c.paused_until AT TIME ZONE 'UTC', {ts}),
    c.quiet_hours::text, c.max_per_week, c.personalisation,
    to_char(c.updated_at AT TIME ZONE 'UTC', {ts})
FROM consent_contactability c JOIN consent_channel ch ON ch.id = c.channel_id
WHERE c.channel_id = ANY(%(channels)s)
"""
_PG_TS = '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\''
_PG_HMAC = (
    "CASE WHEN c.identifier = '' THEN '' ELSE "
    "encode(hmac(convert_to(c.identifier, 'UTF8'), %(hmac_key)s::bytea, 'sha256'), "
    "'hex') END"
)


def snapshot_sql(*, fmt: str, hashed: bool) -> str:
    """The snapshot query for COPY; ndjson is one JSON text per line, built by SQL."""
    template = _PG_JSON if fmt == "ndjson" else _PG_CSV
    return template.format(identifier=_PG_HMAC if hashed else "c.identifier", ts=_PG_TS)


def snapshot_copy_statement(*, fmt: str, hashed: bool) -> str:
    """Wrap the query in COPY. For ndjson, CSV mode with control-character quote and
    delimiter writes each JSON text untouched (text mode would escape backslashes)."""
    query = snapshot_sql(fmt=fmt, hashed=hashed)
    if fmt == "ndjson":
        options = "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"
    else:
        options = "FORMAT csv"
    return f"COPY ({query}) TO STDOUT WITH ({options})"


CSV_HEADER = ",".join(FIELDS) + "\n"


def _csv_value(name: str, value) -> str | int | None:
    if name in ("permitted_topics", "reasons"):
        return " ".join(value)
    if name == "quiet_hours":
        return json.dumps(value, separators=(", ", ": ")) if value else None
    if name in ("suppressed", "personalisation"):
        return "t" if value else "f"
    return value


def snapshot_rows_chunked(
    *, channel_ids: dict[int, str], fmt: str, hmac_key: bytes | None = None
) -> Iterator[bytes]:
    """The portable snapshot (SQLite): keyset chunks, encoded here."""
    last = 0
    encode = _identifier_encoder(hmac_key)
    while True:
        rows = list(
            Contactability.objects.filter(channel_id__in=channel_ids, seq__gt=last)
            .order_by("seq")
            .values_list(
                "seq",
                "identifier",
                "channel_id",
                "suppressed",
                "permitted_topics",
                "reasons",
                "paused_until",
                "quiet_hours",
                "max_per_week",
                "personalisation",
                "updated_at",
            )[:SNAPSHOT_CHUNK]
        )
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n") if fmt == "csv" else None
        for row in rows:
            item = dict(zip(FIELDS, row, strict=True))
            item["identifier"] = encode(item["identifier"])
            item["channel"] = channel_ids[item["channel"]]
            item["paused_until"] = iso(item["paused_until"])
            item["updated_at"] = iso(item["updated_at"])
            if writer is None:
                buf.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
                buf.write("\n")
            else:
                writer.writerow([_csv_value(k, v) for k, v in item.items()])
        yield buf.getvalue().encode()
        last = rows[-1][0]


def feed_head_seq() -> int:
    return (
        LedgerHead.objects.filter(pk=1).values_list("feed_seq", flat=True).first() or 0
    )


# --- check --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    recipient: str
    identifier: str | None
    blind_index: str | None
    error: ValidationError | None = None


def recipients_resolve(
    *,
    kind: str,
    recipients: Sequence[str],
    channel_id: int,
    hmac_key: bytes | None = None,
) -> list[CheckItem]:
    """Normalise each recipient and find its blind index; a bad one gets an error.

    Hashed recipients (the client's own HMAC) are matched against the channel's
    published identifiers in one query.
    """
    if hmac_key is not None:
        return _hashed_resolve(
            recipients=recipients, channel_id=channel_id, key=hmac_key
        )
    index_for = crypto.blind_indexer(f"{kind}:")
    items = []
    for raw in recipients:
        try:
            value = normalise_many(kind, raw)
        except ValidationError as exc:
            items.append(CheckItem(raw, None, None, exc))
            continue
        items.append(CheckItem(raw, value, index_for(value)))
    return items


_PG_HASHED_LOOKUP = """
SELECT h, blind_index FROM (
    SELECT encode(hmac(convert_to(identifier, 'UTF8'), %s::bytea, 'sha256'), 'hex')
        AS h,
        blind_index
    FROM consent_contactability WHERE channel_id = %s AND identifier <> ''
) t WHERE h = ANY(%s)
"""


def _hashed_resolve(
    *, recipients: Sequence[str], channel_id: int, key: bytes
) -> list[CheckItem]:
    from consent.identifiers import MSG_TOKEN_INVALID

    wanted = {r.lower() for r in recipients if _HEX64.match(r.lower())}
    found: dict[str, str] = {}
    if wanted:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    _PG_HASHED_LOOKUP,
                    [key, channel_id, list(wanted)],
                )
                found = dict(cursor.fetchall())
        else:
            for identifier, bi in (
                Contactability.objects.filter(channel_id=channel_id)
                .exclude(identifier="")
                .values_list("identifier", "blind_index")
            ):
                digest = crypto.client_hmac(key, identifier)
                if digest in wanted:
                    found[digest] = bi
    items = []
    for raw in recipients:
        digest = raw.lower()
        if not _HEX64.match(digest):
            error = ValidationError(MSG_TOKEN_INVALID, code="hmac_invalid")
            items.append(CheckItem(raw, None, None, error))
        else:
            items.append(CheckItem(raw, digest, found.get(digest)))
    return items


def recipients_check(
    *,
    channel: Channel,
    topic: Topic,
    items: Sequence[CheckItem],
    at: datetime | None = None,
) -> list[dict]:
    """Decide per recipient, in a fixed number of queries whatever the batch size:
    one for the keys and, only if a key has a cap, one for the send counts."""
    at = at or timezone.now()
    keys = check_keys.fetch(
        channel_id=channel.pk,
        blind_indexes={i.blind_index for i in items if i.blind_index},
    )
    capped = [bi for bi, key in keys.items() if key.max_per_week is not None]
    sent: dict[str, int] = {}
    if capped and topic.is_marketing:
        sent = dict(
            SendRecord.objects.filter(
                channel=channel,
                blind_index__in=capped,
                sent_at__gt=at - FREQUENCY_WINDOW,
                sent_at__lte=at,
            )
            .values("blind_index")
            .annotate(n=Count("id"))
            .values_list("blind_index", "n")
        )
    quiet = QuietHours(at)
    results = []
    for item in items:
        if item.error is not None:
            results.append(
                {
                    "recipient": item.recipient,
                    "allowed": False,
                    "reasons": [],
                    "error": {
                        "code": item.error.code or "invalid",
                        "message": " ".join(str(m) for m in item.error.messages),
                    },
                }
            )
            continue
        allowed, reasons = _decide(
            keys.get(item.blind_index), topic, quiet, sent.get(item.blind_index, 0)
        )
        results.append(
            {
                "recipient": item.recipient,
                "allowed": allowed,
                "reasons": reasons,
                "error": None,
            }
        )
    return results


def _decide(
    key: CheckKeyRow | None, topic: Topic, quiet: QuietHours, sent: int
) -> tuple[bool, list[str]]:
    if key is None:
        permitted = not topic.is_marketing
        held = [Reason.NO_CONSENT] if topic.is_marketing else []
        quiet_hours = cap = None
    else:
        permitted, held = key.answer(topic.bit)
        quiet_hours, cap = key.quiet_hours, key.max_per_week
    return send_decision(
        permitted=permitted,
        held=held,
        marketing=topic.is_marketing,
        quiet_hours=quiet_hours,
        max_per_week=cap,
        sent=sent,
        clock=quiet,
    )
