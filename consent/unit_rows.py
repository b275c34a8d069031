"""The ordering step's writes on PostgreSQL: two statements whatever the change.

The head is locked by one statement; the ledger rows, the keys (inserted or
updated), their feed rows, the check's narrow rows, any rows the unit asked to be
written with them (``ConsentChange.insert_when_sealed``) and the head's new
position go in one more, as data-modifying CTEs. Fewer round trips under the one
lock every writer shares is what keeps a STOP storm moving.
"""

from __future__ import annotations

from django.db import connection, models

from consent import check_keys
from consent.keys import KEY_FIELDS
from consent.models import CheckKey, Contactability, LedgerHead

_HEAD = (
    "SELECT ledger_seq, ledger_hash, feed_seq, catalogue_version "
    "FROM consent_ledgerhead WHERE id = 1 FOR UPDATE"
)
_FEED_COLUMNS = (
    "suppressed, permitted_topics, reasons, topic_reasons, paused_until, "
    "quiet_hours, max_per_week, personalisation"
)


def lock_head_pg() -> LedgerHead | None:
    """The head, locked; None when it does not exist yet."""
    with connection.cursor() as cursor:
        cursor.execute(_HEAD)
        row = cursor.fetchone()
    if row is None:
        return None
    ledger_seq, ledger_hash, feed_seq, version = row
    return LedgerHead(
        pk=1,
        ledger_seq=ledger_seq,
        ledger_hash=ledger_hash,
        feed_seq=feed_seq,
        catalogue_version=version,
    )


def _insert_fields(model: type[models.Model], objs: list) -> list[models.Field]:
    fields = []
    for field in model._meta.local_concrete_fields:
        if field.primary_key and getattr(objs[0], field.attname) is None:
            continue  # the database numbers it
        fields.append(field)
    return fields


def _values(fields: list[models.Field], objs: list, params: list) -> str:
    rows = []
    for obj in objs:
        for field in fields:
            value = field.pre_save(obj, True)
            params.append(field.get_db_prep_save(value, connection))
        rows.append("(" + ", ".join(["%s"] * len(fields)) + ")")
    return ", ".join(rows)


def _insert(name: str, model, objs: list, params: list, tail: str = "") -> str:
    fields = _insert_fields(model, objs)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = _values(fields, objs, params)
    return (
        f"{name} AS (INSERT INTO {model._meta.db_table} ({columns}) "
        f"VALUES {values} {tail})"
    )


def append_pg(
    *,
    head: LedgerHead,
    events: list,
    keys: list[Contactability],
    checks: list[CheckKey],
    extra: list,
    now,
) -> None:
    """Write everything of the ordering step in one statement; new keys get their
    ids from the database (read back with the statement)."""
    params: list = []
    parts: list[str] = []
    if events:
        parts.append(_insert("ev", type(events[0]), events, params))
    if keys:
        for key in keys:
            key.id = None  # one shape for every row: the conflict finds existing ones
        updated = ", ".join(
            f"{connection.ops.quote_name(name)} = EXCLUDED.{name}"
            for name in KEY_FIELDS
        )
        parts.append(
            _insert(
                "k",
                Contactability,
                keys,
                params,
                "ON CONFLICT (blind_index, channel_id) DO UPDATE SET "
                f"{updated} RETURNING id, blind_index, channel_id, seq, "
                f"{_FEED_COLUMNS}",
            )
        )
        params.append(now)
        parts.append(
            "f AS (INSERT INTO consent_suppressionchange (seq, key_id, channel_id, "
            f"{_FEED_COLUMNS}, created_at) SELECT seq, id, channel_id, "
            f"{_FEED_COLUMNS}, %s FROM k)"
        )
    if checks:
        narrow = ", ".join(
            f"{name} = EXCLUDED.{name}" for name in check_keys.STATE_FIELDS
        )
        parts.append(
            _insert(
                "n",
                CheckKey,
                checks,
                params,
                f"ON CONFLICT (channel_id, digest) DO UPDATE SET {narrow}",
            )
        )
    by_model: dict[type, list] = {}
    for obj in extra:
        by_model.setdefault(type(obj), []).append(obj)
    for i, (model, objs) in enumerate(by_model.items()):
        parts.append(_insert(f"x{i}", model, objs, params, "RETURNING *"))
    params += [head.ledger_seq, head.ledger_hash, head.feed_seq]
    returning = (
        "(SELECT json_agg(json_build_array(blind_index, channel_id, id)) FROM k)"
        if keys
        else "NULL"
    )
    extra_ids = [
        f"(SELECT array_agg({model._meta.pk.column}) FROM x{i})"
        for i, model in enumerate(by_model)
    ]
    sql = (
        ("WITH " + ", ".join(parts) + " " if parts else "")
        + "UPDATE consent_ledgerhead SET ledger_seq = %s, ledger_hash = %s, "
        + f"feed_seq = %s WHERE id = 1 RETURNING {', '.join([returning, *extra_ids])}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written, *extra_pks = cursor.fetchone()
    ids = {(bi, channel_id): pk for bi, channel_id, pk in written or ()}
    for key in keys:
        key.id = ids[(key.blind_index, key.channel_id)]
        key._state.adding = False
    for (_model, objs), pks in zip(by_model.items(), extra_pks, strict=True):
        # Rows come back in insertion order for a single VALUES list.
        for obj, pk in zip(objs, sorted(pks), strict=True):
            obj.pk = obj.pk or pk
            obj._state.adding = False
    for event in events:
        event._state.adding = False
