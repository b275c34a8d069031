"""The ordering step on PostgreSQL: one statement, whatever the change.

Everything is built before the step and sent as one statement of data-modifying
CTEs. Its first CTE locks the ledger head; the ledger rows are numbered and
hash-chained by the database from the head it locked (a recursive CTE computing the
same SHA-256 as ``consent.ledger.row_hash``, over bodies rendered here around their
``seq``); the keys, their feed rows, the check's narrow rows and any rows the unit
asked for (``ConsentChange.insert_when_sealed``) go with them, and the head moves.
So the one lock every writer shares is held for one statement and the commit, with
no round trip to this process in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, models

from consent import check_keys, prepared
from consent.keys import KEY_FIELDS, KeyUpdate
from consent.ledger import canonical_body_around_seq
from consent.models import CheckKey, ConsentEvent, Contactability

_FEED_COLUMNS = (
    "suppressed, permitted_topics, reasons, topic_reasons, paused_until, "
    "quiet_hours, max_per_week, personalisation"
)
_HEAD = (
    "head AS MATERIALIZED (SELECT ledger_seq, ledger_hash::text AS ledger_hash, "
    "feed_seq FROM consent_ledgerhead WHERE id = 1 FOR UPDATE)"
)
# A missing head fails the statement (nothing is written or committed); the column
# in the message keeps the cast from being folded into an error at planning.
_CHAIN_BASE = (
    "SELECT 0, ledger_seq, NULL::text, ledger_hash FROM head UNION ALL "
    "SELECT 0, ('ledger head missing (run migrate)' || relname)::bigint, NULL, NULL "
    "FROM pg_class WHERE oid = 'consent_ledgerhead'::regclass "
    "AND NOT EXISTS (SELECT 1 FROM head)"
)
_CHAIN_STEP = (
    " UNION ALL SELECT e.i, c.seq + 1, c.hash, encode(sha256(convert_to("
    "c.hash || e.prefix || (c.seq + 1)::text || e.suffix, 'UTF8')), 'hex') "
    "FROM chain c JOIN e ON e.i = c.i + 1"
)


@dataclass(frozen=True)
class Extra:
    """A row to insert with the ordering step; ``position``: (JSON field, key) that
    receives the feed position of the unit's last feed row (null when none)."""

    obj: models.Model
    position: tuple[str, str] | None = None


def _cast(field: models.Field) -> str:
    """The field's type for a typed VALUES cell; character types as text, so a value
    too long fails on insert instead of being cut by the cast."""
    db_type = field.cast_db_type(connection)
    return "::text" if db_type.startswith("varchar") else f"::{db_type}"


def _fields(model: type[models.Model], objs: list, skip=()) -> list[models.Field]:
    return [
        field
        for field in model._meta.local_concrete_fields
        if field.attname not in skip
        and not (field.primary_key and getattr(objs[0], field.attname) is None)
    ]


def _cells(fields, casts, obj, params) -> list[str]:
    cells = []
    for field, cast in zip(fields, casts, strict=True):
        value = field.pre_save(obj, True)
        params.append(field.get_db_prep_save(value, connection))
        cells.append(f"%s{cast}")
    return cells


def _rows(fields, objs, params, *, typed: bool, ordinal: bool = False) -> str:
    """A VALUES list; ``typed`` casts every cell (rows selected, not inserted
    directly); ``ordinal`` leads each row with its position, from 1."""
    casts = [_cast(f) if typed else "" for f in fields]
    rows = []
    for n, obj in enumerate(objs, 1):
        cells = _cells(fields, casts, obj, params)
        rows.append("(" + ", ".join([str(n), *cells] if ordinal else cells) + ")")
    return "VALUES " + ", ".join(rows)


def _columns(fields) -> str:
    return ", ".join(connection.ops.quote_name(f.column) for f in fields)


def _ledger(events: list[ConsentEvent], params: list) -> list[str]:
    fields = _fields(ConsentEvent, events, skip={"seq", "prev_hash", "hash"})
    names = [f"c{n}" for n in range(len(fields))]
    casts = [_cast(f) for f in fields]
    rows = []
    for n, event in enumerate(events, 1):
        params.extend(canonical_body_around_seq(event))
        cells = _cells(fields, casts, event, params)
        rows.append(f"({n}, %s::text, %s::text, {', '.join(cells)})")
    return [
        f"e (i, prefix, suffix, {', '.join(names)}) AS (VALUES {', '.join(rows)})",
        f"chain (i, seq, prev, hash) AS ({_CHAIN_BASE}{_CHAIN_STEP})",
        f"ev AS (INSERT INTO consent_consentevent ({_columns(fields)}, seq, "
        f"prev_hash, hash) SELECT {', '.join(f'e.{n}' for n in names)}, chain.seq, "
        "chain.prev, chain.hash FROM e JOIN chain ON chain.i = e.i)",
    ]


def _keys(keys: list[Contactability], params: list, now) -> list[str]:
    for key in keys:
        key.id = None  # one shape for every row: the conflict finds existing ones
    fields = _fields(Contactability, keys, skip={"seq"})
    names = [f"c{n}" for n in range(len(fields))]
    values = _rows(fields, keys, params, typed=True, ordinal=True)
    updated = ", ".join(
        f"{connection.ops.quote_name(name)} = EXCLUDED.{name}" for name in KEY_FIELDS
    )
    params.append(now)
    return [
        f"k AS (INSERT INTO consent_contactability ({_columns(fields)}, seq) "
        f"SELECT {', '.join(f'v.{n}' for n in names)}, head.feed_seq + v.j "
        f"FROM ({values}) AS v (j, {', '.join(names)}) CROSS JOIN head "
        f"ON CONFLICT (blind_index, channel_id) DO UPDATE SET {updated} "
        f"RETURNING id, blind_index, channel_id, seq, {_FEED_COLUMNS})",
        "f AS (INSERT INTO consent_suppressionchange (seq, key_id, channel_id, "
        f"{_FEED_COLUMNS}, created_at) SELECT seq, id, channel_id, "
        f"{_FEED_COLUMNS}, %s FROM k)",
    ]


def _checks(checks: list[CheckKey], params: list) -> str:
    fields = _fields(CheckKey, checks)
    values = _rows(fields, checks, params, typed=False)
    narrow = ", ".join(f"{name} = EXCLUDED.{name}" for name in check_keys.STATE_FIELDS)
    return (
        f"n AS (INSERT INTO {CheckKey._meta.db_table} ({_columns(fields)}) {values} "
        f"ON CONFLICT (channel_id, digest) DO UPDATE SET {narrow})"
    )


def _extra(i: int, extras: list[Extra], params: list, feed_rows: int) -> str:
    model = type(extras[0].obj)
    objs = [extra.obj for extra in extras]
    fields = _fields(model, objs)
    names = [f"c{n}" for n in range(len(fields))]
    selected = []
    for field, name in zip(fields, names, strict=True):
        position = extras[0].position
        if feed_rows and position and position[0] == field.attname:
            selected.append(
                f"jsonb_set(v.{name}, '{{{position[1]}}}', "
                f"to_jsonb(head.feed_seq + {feed_rows}))"
            )
        else:
            selected.append(f"v.{name}")
    values = _rows(fields, objs, params, typed=True)
    pk = model._meta.pk.column
    return (
        f"x{i} AS (INSERT INTO {model._meta.db_table} ({_columns(fields)}) "
        f"SELECT {', '.join(selected)} FROM ({values}) AS v ({', '.join(names)}) "
        f"CROSS JOIN head RETURNING {pk})"
    )


def append_pg(
    *,
    events: list[ConsentEvent],
    updates: list[KeyUpdate],
    extras: list[Extra],
    now,
    commit: bool,
) -> None:
    """Run the ordering step (see the module docstring) and give the objects their
    positions, hashes and ids. ``commit``: the unit's transaction is the outermost
    one and ends here, so COMMIT goes in the same round trip (pipelined): the head
    is released as soon as the database has committed, without waiting for this
    process in between."""
    params: list = []
    parts = [_HEAD]
    if events:
        parts += _ledger(events, params)
    else:
        parts.append(f"chain (i, seq, prev, hash) AS ({_CHAIN_BASE})")
    keys = [u.row for u in updates]
    if keys:
        parts += _keys(keys, params, now)
    checks = [u.check for u in updates]
    if checks:
        parts.append(_checks(checks, params))
    by_model: dict[type, list[Extra]] = {}
    for extra in extras:
        by_model.setdefault(type(extra.obj), []).append(extra)
    for i, group in enumerate(by_model.values()):
        parts.append(_extra(i, group, params, len(keys)))
    returning = [
        "head.ledger_seq",
        "head.feed_seq",
        "(SELECT json_agg(json_build_array(seq, prev, hash) ORDER BY i) "
        "FROM chain WHERE i > 0)",
        "(SELECT json_agg(json_build_array(blind_index, channel_id, id)) FROM k)"
        if keys
        else "NULL",
        *(
            f"(SELECT array_agg({m._meta.pk.column}) FROM x{i})"
            for i, m in enumerate(by_model)
        ),
    ]
    sql = (
        "WITH RECURSIVE "
        + ", ".join(parts)
        + " UPDATE consent_ledgerhead SET "
        + f"ledger_seq = head.ledger_seq + {len(events)}, "
        + "ledger_hash = (SELECT hash FROM chain ORDER BY i DESC LIMIT 1), "
        + f"feed_seq = head.feed_seq + {len(keys)} "
        + "FROM head WHERE consent_ledgerhead.id = 1 RETURNING "
        + ", ".join(returning)
    )
    with prepared.cursor() as cursor:
        if commit:
            # Errors of either come back as Django's (a duplicate event id is an
            # IntegrityError), and a failed statement leaves nothing committed.
            with connection.wrap_database_errors, connection.connection.pipeline():
                cursor.execute(sql, params)
                connection.connection.commit()
        else:
            cursor.execute(sql, params)
        row = cursor.fetchone()
    _ledger_seq, feed_seq, chained, written, *extra_pks = row
    for event, (seq, prev, hash_) in zip(events, chained or (), strict=True):
        event.seq, event.prev_hash, event.hash = seq, prev, hash_
        event._state.adding = False
    ids = {(bi, channel_id): pk for bi, channel_id, pk in written or ()}
    for j, key in enumerate(keys, 1):
        key.id = ids[(key.blind_index, key.channel_id)]
        key.seq = feed_seq + j
        key._state.adding = False
    for group, pks in zip(by_model.values(), extra_pks, strict=True):
        # Rows come back in insertion order for a single VALUES list.
        for extra, pk in zip(group, sorted(pks), strict=True):
            extra.obj.pk = extra.obj.pk or pk
            extra.obj._state.adding = False
            if extra.position and keys:
                field, key = extra.position
                getattr(extra.obj, field)[key] = feed_seq + len(keys)
