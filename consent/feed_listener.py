"""Wakes webhook delivery the moment feed rows commit.

A database trigger sends ``NOTIFY consent_feed`` with every transaction that appends
feed rows (PostgreSQL delivers it only on commit). The listener holds one connection
in ``LISTEN``, and on each notification (or every ``interval`` seconds, for retries
that come due) queues a delivery task per webhook with rows due.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection, connections

from consent.webhooks import webhook_dispatch

CHANNEL = "consent_feed"

logger = logging.getLogger(__name__)


def _listen_connection():
    import psycopg

    cfg = connection.settings_dict
    params = {
        "dbname": cfg["NAME"],
        "user": cfg.get("USER") or None,
        "password": cfg.get("PASSWORD") or None,
        "host": cfg.get("HOST") or None,
        "port": str(cfg["PORT"]) if cfg.get("PORT") else None,
    }
    conn = psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def _dispatch() -> int:
    close_old_connections()
    try:
        return webhook_dispatch()
    except Exception:  # keep listening; the next notification or tick retries
        logger.exception("webhook dispatch failed")
        return 0


def feed_listen(*, stop: threading.Event, interval: float = 5.0) -> None:
    """Run until ``stop`` is set. Needs PostgreSQL."""
    conn = _listen_connection()
    try:
        _dispatch()  # whatever committed while nobody listened
        while not stop.is_set():
            woke = False
            for _notify in conn.notifies(timeout=interval, stop_after=1):
                woke = True
            if woke:
                # Drain what else arrived meanwhile: one dispatch serves them all.
                for _notify in conn.notifies(timeout=0):
                    pass
            _dispatch()
    finally:
        conn.close()
        connections.close_all()  # this thread's Django connections
