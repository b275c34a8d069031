"""/health/live and /health/ready: public, terse, and honest about dependencies."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def test_live_answers_without_authentication():
    response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_ready_checks_database_and_cache():
    response = Client().get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_fails_when_the_cache_is_down_and_says_nothing_more(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = Client().get("/health/ready", HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert b"redis" not in response.content.lower()


def test_ready_fails_when_the_database_is_down(monkeypatch):
    from django.db import OperationalError

    def refuse(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor", refuse
    )
    response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_ready_checks_the_broker_when_one_is_configured(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        down = Client().get("/health/ready")
        app.conf.broker_url = "redis://127.0.0.1:6379/15"
        up = Client().get("/health/ready")
    finally:
        app.conf.broker_url = old
    assert down.status_code == 503
    assert up.status_code == 200, up.content


def test_ready_refuses_other_methods():
    assert Client().post("/health/ready").status_code == 405
