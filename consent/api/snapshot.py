"""The snapshot stream: one consistent read, with the feed position it was taken at.

On PostgreSQL a dedicated connection opens a REPEATABLE READ, read-only transaction,
reads the feed head, then passes ``COPY (…) TO STDOUT`` blocks straight to the client:
the JSON or CSV is built by the database, so the server never holds more than a block
and never re-encodes a row. Elsewhere (SQLite) the rows are read in keyset chunks
inside one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from consent import selectors

BLOCK_SIZE = 64 * 1024


@dataclass
class SnapshotStream:
    feed_seq: int
    blocks: Iterator[bytes]


def _pg_connect():
    import psycopg

    cfg = connection.settings_dict
    params = {
        "dbname": cfg["NAME"],
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
        "host": cfg.get("HOST") or None,
        "port": str(cfg["PORT"]) if cfg.get("PORT") else None,
    }
    return psycopg.connect(
        **{k: v for k, v in params.items() if v}, cursor_factory=psycopg.ClientCursor
    )


def _pg_stream(*, channel_ids: list[int], fmt: str, hmac_key: bytes | None):
    import psycopg

    conn = _pg_connect()
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        cur = conn.cursor()
        # The first statement fixes the snapshot: the head and the rows agree.
        cur.execute("SELECT feed_seq FROM consent_ledgerhead WHERE id = 1")
        row = cur.fetchone()
        feed_seq = row[0] if row else 0
    except BaseException:
        conn.close()
        raise
    statement = selectors.snapshot_copy_statement(fmt=fmt, hashed=hmac_key is not None)
    params = {"channels": channel_ids, "hmac_key": hmac_key}

    def blocks() -> Iterator[bytes]:
        try:
            if fmt == "csv":
                yield selectors.CSV_HEADER.encode()
            buffer = bytearray()
            with cur.copy(statement, params) as copy:
                # libpq hands over one row per message: gather them into blocks so
                # the server writes to the socket once per block, not once per row.
                for row in copy:
                    buffer += row
                    if len(buffer) >= BLOCK_SIZE:
                        yield bytes(buffer)
                        buffer.clear()
            if buffer:
                yield bytes(buffer)
            conn.rollback()
        finally:
            conn.close()

    return SnapshotStream(feed_seq=feed_seq, blocks=blocks())


def _portable_stream(*, channel_ids: dict[int, str], fmt: str, hmac_key: bytes | None):
    with transaction.atomic():
        feed_seq = selectors.feed_head_seq()
        body = []
        if fmt == "csv":
            body.append(selectors.CSV_HEADER.encode())
        # SQLite has no MVCC snapshot across statements outside one transaction, and
        # a transaction cannot outlive the view, so the chunks are read here.
        body.extend(
            selectors.snapshot_rows_chunked(
                channel_ids=channel_ids, fmt=fmt, hmac_key=hmac_key
            )
        )
    return SnapshotStream(feed_seq=feed_seq, blocks=iter(body))


def snapshot_open(
    *, channel_ids: dict[int, str], fmt: str, hmac_key: bytes | None = None
) -> SnapshotStream:
    if connection.vendor == "postgresql":
        return _pg_stream(channel_ids=list(channel_ids), fmt=fmt, hmac_key=hmac_key)
    return _portable_stream(channel_ids=channel_ids, fmt=fmt, hmac_key=hmac_key)
