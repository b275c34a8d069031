"""APP_ENV=production refuses settings that work on one machine and break on many:
``check --deploy`` reports them and a web or Celery process refuses to start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.checks import run_checks

from config.checks import production_settings_check
from tests.backoffice.test_deploy_check import BASE_DIR, production_env

# The check reads the engine; overriding it here is safe, nothing connects.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

SAFE = {
    "PRODUCTION": True,
    "DEBUG": False,
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql"}},
    "CELERY_TASK_ALWAYS_EAGER": False,
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}},
    "MESSAGE_SENDER": "production",
    "SMS_GATEWAY_URL": "https://sms.example.com/send",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}
UNSAFE = {
    "config.E010": {"DEBUG": True},
    "config.E011": {"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3"}}},
    "config.E012": {"CELERY_TASK_ALWAYS_EAGER": True, "CELERY_BROKER_URL": "memory://"},
    "config.E013": {
        "CACHES": {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        }
    },
    "config.E014": {"MESSAGE_SENDER": "console"},
    "config.E015": {"SMS_GATEWAY_URL": ""},
    "config.E016": {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
}


def _ids(settings, **overrides) -> set[str]:
    for name, value in {**SAFE, **overrides}.items():
        setattr(settings, name, value)
    return {error.id for error in production_settings_check(None)}


def test_safe_production_settings_pass(settings):
    assert _ids(settings) == set()


@pytest.mark.parametrize("check_id", sorted(UNSAFE))
def test_each_unsafe_setting_is_reported(settings, check_id):
    assert _ids(settings, **UNSAFE[check_id]) == {check_id}


@pytest.mark.parametrize("sender", ["file", "locmem"])
def test_file_and_locmem_senders_are_refused_too(settings, sender):
    assert _ids(settings, MESSAGE_SENDER=sender) == {"config.E014"}


def test_development_is_not_held_to_production_rules(settings):
    assert _ids(settings, PRODUCTION=False, **UNSAFE["config.E011"]) == set()


def test_checks_are_deploy_checks(settings, db):
    for name, value in {**SAFE, "DEBUG": True}.items():
        setattr(settings, name, value)
    assert "config.E010" not in {e.id for e in run_checks()}
    assert "config.E010" in {e.id for e in run_checks(include_deployment_checks=True)}


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_check_deploy_reports_them_all(tmp_path):
    env = production_env(tmp_path)
    env.update(
        DEBUG="1",
        DATABASE_URL="sqlite:////tmp/prod.sqlite3",
        CELERY_BROKER_URL="",
        CACHE_URL="locmem://",
        MESSAGE_SENDER="console",
    )
    result = _run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in ("E010", "E011", "E012", "E013", "E014"):
        assert f"config.{check_id}" in output, output


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_web_process_refuses_to_start(tmp_path, module):
    env = production_env(tmp_path)
    env.update(CACHE_URL="locmem://", MESSAGE_SENDER="console")
    result = _run(["-c", f"import {module}"], env)
    assert result.returncode != 0
    assert "Refusing to start" in result.stderr
    assert "config.E013" in result.stderr and "config.E014" in result.stderr


def test_web_process_starts_with_safe_settings(tmp_path):
    result = _run(["-c", "import config.wsgi; print('ok')"], production_env(tmp_path))
    assert result.stdout.strip() == "ok", result.stderr


def test_celery_worker_refuses_to_start(tmp_path):
    env = production_env(tmp_path)
    env["DATABASE_URL"] = "sqlite:////tmp/prod.sqlite3"
    script = (
        "from config.celery import app; from celery import signals; "
        "signals.worker_init.send(sender=None)"
    )
    result = _run(["-c", script], env)
    assert result.returncode == 78
    assert "config.E011" in result.stderr
