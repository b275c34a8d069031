"""Connection set-up for the append-only guard on SQLite.

SQLite triggers cannot read session state, so the triggers that refuse UPDATE and
DELETE on the ledger and the feed call ``consent_append_only_guard()``, a function
registered on every connection Django opens. Outside Django the function does not
exist and the trigger fails, which refuses the write just the same.
"""

from __future__ import annotations

import threading

from django.db.backends.signals import connection_created
from django.dispatch import receiver

_guard = threading.local()


def append_only_guard_enabled() -> bool:
    return getattr(_guard, "disabled", 0) == 0


class suspend_append_only_guard:  # noqa: N801  (used like a function)
    """Let this thread's SQLite connection change append-only rows (test teardown)."""

    def __enter__(self):
        _guard.disabled = getattr(_guard, "disabled", 0) + 1

    def __exit__(self, *exc):
        _guard.disabled -= 1


@receiver(connection_created)
def register_sqlite_guard(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "consent_append_only_guard",
            0,
            lambda: 1 if append_only_guard_enabled() else 0,
        )
