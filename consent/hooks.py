"""Extension points that other apps fill in from ``AppConfig.ready()``.

``consent`` is the ground floor and imports no other app. Where the core needs
something another app owns (preferences that shape contactability, a complaint opened
by a spam report, demo data), that app registers a callable here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Registry:
    # Opens a complaint for a spam report; returns an object with ``reference``.
    spam_report_handlers: list[Callable[..., Any]] = field(default_factory=list)
    # Called with ``customer`` when its personal data is erased (same transaction).
    erasure_handlers: list[Callable[..., None]] = field(default_factory=list)
    # (order, callable(stdout=…)) pairs run by ``seed_demo`` after the core's demo
    # customers.
    demo_seeders: list[tuple[int, Callable[..., Any]]] = field(default_factory=list)


registry = _Registry()


def register_spam_report_handler(handler: Callable[..., Any]) -> None:
    if handler not in registry.spam_report_handlers:
        registry.spam_report_handlers.append(handler)


def register_erasure_handler(handler: Callable[..., None]) -> None:
    if handler not in registry.erasure_handlers:
        registry.erasure_handlers.append(handler)


def register_demo_seeder(order: int, seeder: Callable[..., Any]) -> None:
    if all(s is not seeder for _o, s in registry.demo_seeders):
        registry.demo_seeders.append((order, seeder))
        registry.demo_seeders.sort(key=lambda pair: pair[0])
