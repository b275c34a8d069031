from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def catalogue(transactional_db):
    """Transactional tests may start after a flush: put the seeded catalogue back."""
    seed = importlib.import_module("consent.migrations.0002_seed_catalogue").seed
    seed(apps, None)
    cache.clear()


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(
            "Chromium is not installed at /usr/bin/chromium "
            "(apt-get install chromium); browser tests skipped."
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed"
    )
    # Playwright's sync API runs an event loop in this thread; the test still reads
    # the database synchronously between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()
        # Database work done while Playwright ran may have opened a connection in
        # another context; close it so the test database can be dropped.
        connections.close_all()


@pytest.fixture
def shoot():
    """Save a full-page screenshot into tests/screenshots/ (ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")


@pytest.fixture
def notice_en_live(catalogue):
    from consent.models import NoticeVersion

    return NoticeVersion.objects.get(code="marketing", version=1, language="en")
