"""The write path's hand-written statements, parsed and planned once per connection.

Django binds parameters on the client, so PostgreSQL parses and plans every
statement it receives. For the few statements a STOP runs, planning cost more than
running them. ``cursor()`` sends them with server-side binding and as prepared
statements, which psycopg keeps per connection (``DB_PREPARED_STATEMENTS=0`` turns
this off, for a pooler in transaction mode without prepared-statement support).
A transaction's first statement takes psycopg's BEGIN along in its round trip.
Elsewhere, and on SQLite, it is Django's own cursor; the SQL is the same.

Prepared statements name their columns: a ``*`` would fail once a migration adds one
while a connection lives.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper
from psycopg import _queries

_IDLE = psycopg.pq.TransactionStatus.IDLE


@functools.lru_cache(maxsize=512)
def _converted(query: bytes, encoding: str):
    return _queries._query2pg_nocache(query, encoding)


class _Query(_queries.PostgresQuery):
    """psycopg remembers the placeholder conversion of short statements only; the
    write path's statements are few, fixed per shape and long (the ordering step
    is several kB), so each is converted once per process."""

    __slots__ = ()

    def convert(self, query, vars) -> None:
        if vars is None or not isinstance(query, str):
            return super().convert(query, vars)
        converted = _converted(self._ensure_bytes(query), self._tx.encoding)
        self.query, self._want_formats, self._order, self._parts = converted
        self.dump(vars)


class _PreparedCursor(psycopg.Cursor):
    _query_cls = _Query

    def execute(self, query, params=None, **kwargs):
        kwargs["prepare"] = True
        conn = self.connection
        if conn.autocommit or conn.info.transaction_status != _IDLE:
            return super().execute(query, params, **kwargs)
        # The transaction's first statement: psycopg's BEGIN goes with it in one
        # round trip instead of one of its own.
        with conn.pipeline():
            return super().execute(query, params, **kwargs)


class _Logged(CursorDebugWrapper):
    """Logs the statement as written: psycopg keeps no text of a prepared one for
    Django's ``last_executed_query``."""

    def debug_sql(
        self, sql=None, params=None, use_last_executed_query=False, many=False
    ):
        return super().debug_sql(sql, params, False, many)


_ONLY_WHEN_ASKED = 2**31 - 1


@contextmanager
def cursor() -> Iterator:
    """A cursor for hot statements (see the module docstring), wrapped like
    Django's, so the statements are counted and logged as any other."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    conn = connection.connection
    if conn.prepare_threshold is None:
        # Django turns psycopg's preparing off; Django's own cursors bind on the
        # client and never prepare, so this only lets ours prepare when they ask.
        conn.prepare_threshold = _ONLY_WHEN_ASKED
    raw = _PreparedCursor(conn)
    wrapped = (
        _Logged(raw, connection)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped:
        yield wrapped
