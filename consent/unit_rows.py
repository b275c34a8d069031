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

import functools
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

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


@dataclass(frozen=True)
class _Layout:
    """A model's columns as the ordering statement writes them."""

    fields: tuple[models.Field, ...]
    casts: tuple[str, ...]  # for typed VALUES cells (rows selected, not inserted)
    columns: str
    names: tuple[str, ...]  # the VALUES list's own column names

    def cells(self, typed: bool) -> str:
        casts = self.casts if typed else ("",) * len(self.fields)
        return ", ".join(f"%s{cast}" for cast in casts)


def _cast(field: models.Field) -> str:
    """Character types as text, so a value too long fails on insert instead of being
    cut by the cast."""
    db_type = field.cast_db_type(connection)
    return "::text" if db_type.startswith("varchar") else f"::{db_type}"


@functools.cache
def _layout(model: type[models.Model], skip: frozenset = frozenset()) -> _Layout:
    """Every column but ``skip`` (those the statement or the database fills in)."""
    fields = tuple(
        f for f in model._meta.local_concrete_fields if f.attname not in skip
    )
    return _Layout(
        fields=fields,
        casts=tuple(_cast(f) for f in fields),
        columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
        names=tuple(f"c{n}" for n in range(len(fields))),
    )


def _params(layout: _Layout, obj, params: list, db) -> None:
    for field in layout.fields:
        params.append(field.get_db_prep_save(field.pre_save(obj, True), db))


def _values(layout: _Layout, count: int, *, typed: bool, lead: str = "") -> str:
    row = layout.cells(typed)
    return "VALUES " + ", ".join(
        f"({lead.format(n=n)}{row})" for n in range(1, count + 1)
    )


_EVENT = (ConsentEvent, frozenset({"seq", "prev_hash", "hash"}))
_KEY = (Contactability, frozenset({"id", "seq"}))
_CHECK = (CheckKey, frozenset())


def _extra_layout(model: type[models.Model]) -> _Layout:
    """Rows the unit asked for get their primary key from the database."""
    return _layout(model, frozenset({model._meta.pk.attname}))


def _ledger_sql(count: int) -> list[str]:
    layout = _layout(*_EVENT)
    names = ", ".join(layout.names)
    values = _values(layout, count, typed=True, lead="{n}, %s::text, %s::text, ")
    return [
        f"e (i, prefix, suffix, {names}) AS ({values})",
        f"chain (i, seq, prev, hash) AS ({_CHAIN_BASE}{_CHAIN_STEP})",
        f"ev AS (INSERT INTO consent_consentevent ({layout.columns}, seq, "
        f"prev_hash, hash) SELECT {', '.join(f'e.{n}' for n in layout.names)}, "
        "chain.seq, chain.prev, chain.hash FROM e JOIN chain ON chain.i = e.i)",
    ]


def _keys_sql(count: int) -> list[str]:
    layout = _layout(*_KEY)
    updated = ", ".join(
        f"{connection.ops.quote_name(name)} = EXCLUDED.{name}" for name in KEY_FIELDS
    )
    return [
        f"k AS (INSERT INTO consent_contactability ({layout.columns}, seq) "
        f"SELECT {', '.join(f'v.{n}' for n in layout.names)}, head.feed_seq + v.j "
        f"FROM ({_values(layout, count, typed=True, lead='{n}, ')}) "
        f"AS v (j, {', '.join(layout.names)}) CROSS JOIN head "
        f"ON CONFLICT (blind_index, channel_id) DO UPDATE SET {updated} "
        f"RETURNING id, blind_index, channel_id, seq, {_FEED_COLUMNS})",
        "f AS (INSERT INTO consent_suppressionchange (seq, key_id, channel_id, "
        f"{_FEED_COLUMNS}, created_at) SELECT seq, id, channel_id, "
        f"{_FEED_COLUMNS}, %s FROM k)",
    ]


def _checks_sql(count: int) -> str:
    layout = _layout(*_CHECK)
    narrow = ", ".join(f"{name} = EXCLUDED.{name}" for name in check_keys.STATE_FIELDS)
    return (
        f"n AS (INSERT INTO {CheckKey._meta.db_table} ({layout.columns}) "
        f"{_values(layout, count, typed=False)} "
        f"ON CONFLICT (channel_id, digest) DO UPDATE SET {narrow})"
    )


def _extra_sql(i: int, model, count: int, position, feed_rows: int) -> str:
    layout = _extra_layout(model)
    selected = []
    for field, name in zip(layout.fields, layout.names, strict=True):
        if feed_rows and position and position[0] == field.attname:
            selected.append(
                f"jsonb_set(v.{name}, '{{{position[1]}}}', "
                f"to_jsonb(head.feed_seq + {feed_rows}))"
            )
        else:
            selected.append(f"v.{name}")
    return (
        f"x{i} AS (INSERT INTO {model._meta.db_table} ({layout.columns}) "
        f"SELECT {', '.join(selected)} FROM ({_values(layout, count, typed=True)}) "
        f"AS v ({', '.join(layout.names)}) CROSS JOIN head "
        f"RETURNING {model._meta.pk.column})"
    )


@functools.lru_cache(maxsize=256)
def _statement(events: int, keys: int, extras: tuple) -> str:
    """The ordering statement for this many ledger rows and keys (each key with its
    feed row and narrow check row); ``extras``: (model, rows, position) per model of
    rows the unit asked for."""
    parts = [_HEAD]
    if events:
        parts += _ledger_sql(events)
    else:
        parts.append(f"chain (i, seq, prev, hash) AS ({_CHAIN_BASE})")
    if keys:
        parts += _keys_sql(keys)
        parts.append(_checks_sql(keys))
    for i, (model, count, position) in enumerate(extras):
        parts.append(_extra_sql(i, model, count, position, keys))
    returning = [
        "head.ledger_seq",
        "head.feed_seq",
        "(SELECT json_agg(json_build_array(seq, prev, hash) ORDER BY i) "
        "FROM chain WHERE i > 0)",
        "(SELECT json_agg(json_build_array(blind_index, channel_id, id)) FROM k)"
        if keys
        else "NULL",
        *(
            f"(SELECT array_agg({model._meta.pk.column}) FROM x{i})"
            for i, (model, _count, _position) in enumerate(extras)
        ),
    ]
    return (
        "WITH RECURSIVE "
        + ", ".join(parts)
        + " UPDATE consent_ledgerhead SET "
        + f"ledger_seq = head.ledger_seq + {events}, "
        + "ledger_hash = (SELECT hash FROM chain ORDER BY i DESC LIMIT 1), "
        + f"feed_seq = head.feed_seq + {keys} "
        + "FROM head WHERE consent_ledgerhead.id = 1 RETURNING "
        + ", ".join(returning)
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
    db = connections[DEFAULT_DB_ALIAS]  # the proxy costs a lookup per use
    keys = [u.row for u in updates]
    by_model: dict[tuple, list[Extra]] = {}
    for extra in extras:
        by_model.setdefault((type(extra.obj), extra.position), []).append(extra)
    params: list = []
    for event in events:
        params.extend(canonical_body_around_seq(event))
        _params(_layout(*_EVENT), event, params, db)
    for key in keys:
        _params(_layout(*_KEY), key, params, db)
    if keys:
        params.append(now)
    for update in updates:
        _params(_layout(*_CHECK), update.check, params, db)
    for (model, _position), group in by_model.items():
        layout = _extra_layout(model)
        for extra in group:
            _params(layout, extra.obj, params, db)
    sql = _statement(
        len(events),
        len(keys),
        tuple((model, len(group), pos) for (model, pos), group in by_model.items()),
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
