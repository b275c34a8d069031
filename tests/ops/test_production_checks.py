"""APP_ENV=production refuses settings that work on one machine and break on many:
``check --deploy`` reports them and a web or Celery process refuses to start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.backoffice.test_deploy_check import BASE_DIR, production_env

UNSAFE = {
    "config.E010": {"DEBUG": "1"},
    "config.E011": {"DATABASE_URL": "sqlite:////tmp/prod.sqlite3"},
    "config.E012": {"CELERY_BROKER_URL": ""},
    "config.E013": {"CACHE_URL": "locmem://"},
    "config.E014": {"MESSAGE_SENDER": "console"},
    "config.E015": {"SMS_GATEWAY_URL": ""},
    "config.E016": {"EMAIL_URL": "console://"},
}


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("check_id", sorted(UNSAFE))
def test_check_deploy_reports_each_unsafe_setting(tmp_path, check_id):
    env = production_env(tmp_path)
    env.update(UNSAFE[check_id])
    result = _run(["manage.py", "check", "--deploy"], env)
    assert result.returncode != 0
    reported = {cid for cid in UNSAFE if cid in result.stdout + result.stderr}
    assert reported == {check_id}, result.stderr


def test_file_and_locmem_senders_are_refused_too(tmp_path):
    for sender in ("file", "locmem"):
        env = production_env(tmp_path)
        env["MESSAGE_SENDER"] = sender
        result = _run(["manage.py", "check", "--deploy"], env)
        assert "config.E014" in result.stderr


def test_development_is_not_held_to_production_rules(tmp_path):
    env = production_env(tmp_path)
    env.update(APP_ENV="development", DATABASE_URL="sqlite:///" + str(tmp_path / "d"))
    env.update(CELERY_BROKER_URL="", CACHE_URL="locmem://", MESSAGE_SENDER="console")
    result = _run(["manage.py", "check", "--deploy"], env)
    assert "config.E01" not in result.stdout + result.stderr


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
    assert result.returncode != 0
    assert "config.E011" in result.stderr
