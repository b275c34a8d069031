"""The Procfile, systemd units and example environment match the settings: every
Celery queue has a worker, exactly one beat, the web process uses the gunicorn
config, and the example environment passes the production checks."""

from __future__ import annotations

import re
import subprocess
import sys

from django.conf import settings

from tests.backoffice.test_deploy_check import BASE_DIR, production_env

UNITS = sorted((BASE_DIR / "deploy" / "systemd").glob("*.service"))


def _commands() -> dict[str, list[str]]:
    procfile = (BASE_DIR / "Procfile").read_text().splitlines()
    return {
        "procfile": [line.split(":", 1)[1] for line in procfile if ":" in line],
        "systemd": [
            re.search(r"^ExecStart=(.*)$", unit.read_text(), re.M).group(1)
            for unit in UNITS
        ],
    }


def _queues(command: str) -> set[str]:
    match = re.search(r"-Q (\S+)", command)
    return set(match.group(1).split(",")) if match else set()


def test_every_queue_has_a_worker_and_there_is_one_beat():
    for source, commands in _commands().items():
        workers = [c for c in commands if " worker " in c]
        served = set().union(*(_queues(c) for c in workers))
        assert served == set(settings.CELERY_QUEUE_NAMES), source
        assert sum(" beat" in c for c in commands) == 1, source
        web = [c for c in commands if "gunicorn" in c]
        assert len(web) == 1 and "-c config/gunicorn.conf.py config.wsgi" in web[0]


def test_units_read_the_environment_file():
    assert len(UNITS) == 4
    for unit in UNITS:
        assert "EnvironmentFile=/etc/consent/consent.env" in unit.read_text()


def test_example_environment_passes_the_production_checks(tmp_path):
    example = (BASE_DIR / "deploy" / "consent.env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if line and not line.startswith("#")
    )
    env = production_env(tmp_path)
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"):
        values.pop(name)  # placeholders; real ones come from production_env
    env.update(values)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
