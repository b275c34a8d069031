"""Connection set-up for the append-only guard on SQLite.

SQLite triggers cannot read session state, so the triggers that refuse UPDATE and
DELETE on the ledger and the feed call ``consent_append_only_guard()``, a function
registered on every connection Django opens. Outside Django the function does not
exist and the trigger fails, which refuses the write just the same.
"""

from __future__ import annotations

import threading

from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_delete, post_save
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


@receiver(post_save, sender="consent.ApiKey")
@receiver(post_save, sender="consent.ApiClient")
@receiver(m2m_changed, sender="consent.ApiClient_channels")
def forget_api_keys(sender, **kwargs) -> None:
    """A key revoked or a client changed here is forgotten by this process at once;
    other processes forget it within ``API_KEY_CACHE_SECONDS``."""
    from consent.api.authentication import forget_cached_keys

    forget_cached_keys()


@receiver(post_save, sender="consent.Channel")
@receiver(post_save, sender="consent.Topic")
@receiver(post_delete, sender="consent.Channel")
@receiver(post_delete, sender="consent.Topic")
def catalogue_edited(sender, **kwargs) -> None:
    from consent.catalogue import catalogue_changed

    catalogue_changed()
