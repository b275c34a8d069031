"""The write path's hand-written statements, parsed and planned once per connection.

Django binds parameters on the client, so PostgreSQL parses and plans every
statement it receives. For the few statements a STOP runs, planning cost more than
running them. ``cursor()`` sends them with server-side binding and as prepared
statements, which psycopg keeps per connection (``DB_PREPARED_STATEMENTS=0`` turns
this off, for a pooler in transaction mode without prepared-statement support).
Elsewhere, and on SQLite, it is Django's own cursor; the SQL is the same.

Prepared statements name their columns: a ``*`` would fail once a migration adds one
while a connection lives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            kwargs["prepare"] = True
            return super().execute(query, params, **kwargs)

    return PreparedCursor


_cursor_class = None
_ONLY_WHEN_ASKED = 2**31 - 1


@contextmanager
def cursor() -> Iterator:
    """A cursor for hot statements (see the module docstring), wrapped like
    Django's, so the statements are counted and logged as any other."""
    global _cursor_class
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    if _cursor_class is None:
        _cursor_class = _prepared_cursor_class()
    conn = connection.connection
    if conn.prepare_threshold is None:
        # Django turns psycopg's preparing off; Django's own cursors bind on the
        # client and never prepare, so this only lets ours prepare when they ask.
        conn.prepare_threshold = _ONLY_WHEN_ASKED
    raw = _cursor_class(conn)
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped:
        yield wrapped
