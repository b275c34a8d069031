"""Channels and topics, kept in memory per process.

Every change that recomputes keys reads the catalogue's version in a statement it
runs anyway (``keys_recompute``); an edit in admin moves the version (signals), so
another worker's next change reloads the catalogue instead of publishing keys from a
stale one. Lookups made before a change (an API request's channel) trust the copy for
``CATALOGUE_MAX_AGE`` seconds at most.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.db.models import F

from consent.models import Channel, LedgerHead, Topic

CATALOGUE_MAX_AGE = 5.0


@dataclass(frozen=True)
class Catalogue:
    version: int
    channels: tuple[Channel, ...]  # active ones
    topics: tuple[Topic, ...]  # active ones
    loaded_at: float = field(default_factory=time.monotonic)

    def channel(self, code: str) -> Channel | None:
        return next((c for c in self.channels if c.code == code), None)

    def topic(self, code: str) -> Topic | None:
        return next((t for t in self.topics if t.code == code), None)


_lock = threading.Lock()
_current: Catalogue | None = None


def _load(version: int) -> Catalogue:
    return Catalogue(
        version=version,
        channels=tuple(Channel.objects.filter(is_active=True)),
        topics=tuple(Topic.objects.filter(is_active=True)),
    )


def catalogue(version: int | None = None) -> Catalogue:
    """The active channels and topics: the copy in memory if it has ``version``
    (or, with no version given, is younger than ``CATALOGUE_MAX_AGE``)."""
    global _current
    cached = _current
    if cached is not None:
        if version is not None and cached.version == version:
            return cached
        if version is None and time.monotonic() - cached.loaded_at < CATALOGUE_MAX_AGE:
            return cached
    fresh = _load(catalogue_version() if version is None else version)
    with _lock:
        _current = fresh
    return fresh


def catalogue_version() -> int:
    return (
        LedgerHead.objects.filter(pk=1)
        .values_list("catalogue_version", flat=True)
        .first()
        or 0
    )


def catalogue_changed() -> None:
    """Move the version (an edit of a channel or topic, in its transaction) and
    forget this process's copy."""
    global _current
    updated = LedgerHead.objects.filter(pk=1).update(
        catalogue_version=F("catalogue_version") + 1
    )
    if not updated:
        LedgerHead.objects.get_or_create(pk=1, defaults={"catalogue_version": 1})
    with _lock:
        _current = None
