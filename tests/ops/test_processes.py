"""The web server configuration and the Celery queue split."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from config.celery import app
from tests.backoffice.test_deploy_check import BASE_DIR

FAST = (
    "consent.tasks.send_message_task",
    "complaints.tasks.complaint_acknowledge_task",
    "complaints.tasks.complaint_message_sent_task",
)
HOUSEKEEPING = (
    "consent.tasks.send_record_purge_task",
    "consent.tasks.erased_identifiers_clear_task",
    "preferences.tasks.care_pause_expire_task",
    "backoffice.tasks.access_log_purge_task",
    "backoffice.tasks.one_time_code_purge_task",
    "backoffice.tasks.session_purge_task",
    "complaints.tasks.complaint_escalate_task",
    "backoffice.tasks.reply_review_overdue_task",
)


@pytest.fixture(autouse=True, scope="module")
def _tasks_loaded():
    import importlib

    for module in {name.rsplit(".", 1)[0] for name in FAST + HOUSEKEEPING}:
        importlib.import_module(module)


def _queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize("task_name", FAST)
def test_codes_and_confirmations_go_to_the_fast_queue(task_name):
    assert task_name in app.tasks
    assert _queue(task_name) == "fast"


@pytest.mark.parametrize("task_name", HOUSEKEEPING)
def test_housekeeping_goes_to_its_own_queue(task_name):
    assert task_name in app.tasks
    assert _queue(task_name) == "housekeeping"


def test_every_beat_task_is_housekeeping():
    for entry in app.conf.beat_schedule.values():
        assert _queue(entry["task"]) == "housekeeping", entry["task"]


def test_a_sent_code_is_published_on_the_fast_queue():
    """Through a real Redis broker, not eager: the message lands in "fast"."""
    from consent.tasks import send_message_task

    url = "redis://127.0.0.1:6379/13"
    broker = redis.Redis.from_url(url)
    broker.delete("fast", "celery", "housekeeping")
    app.conf.task_always_eager = False
    try:
        with app.connection_for_write(url) as connection:
            send_message_task.apply_async(
                kwargs={"to": "x", "kind": "phone", "subject": "", "body": "b"},
                connection=connection,
            )
        assert (broker.llen("fast"), broker.llen("celery")) == (1, 0)
    finally:
        app.conf.task_always_eager = True
        broker.delete("fast", "celery", "housekeeping")


def test_gunicorn_config_reads_workers_and_threads_from_the_environment():
    env = {**os.environ, "WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8"}
    result = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "--print-config",
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    config = {
        key.strip(): value.strip()
        for key, value in (
            line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line
        )
    }
    assert config["worker_class"].strip() == "gthread", result.stderr
    assert config["workers"].strip() == "3"
    assert config["threads"].strip() == "8"


def test_gunicorn_serves_with_the_config(tmp_path):
    env = {
        **os.environ,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_BIND": "127.0.0.1:8102",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite3'}",
    }
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(
                    "http://127.0.0.1:8102/health/live", timeout=2
                ) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.5)
        if body is None:
            server.terminate()
            pytest.fail(server.communicate(timeout=30)[1].decode()[-3000:])
        assert body == b'{"status": "ok"}'
        with urllib.request.urlopen("http://127.0.0.1:8102/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert "django_http_requests_" in metrics
        assert os.listdir(tmp_path / "prom")  # multiprocess files per worker
    finally:
        server.terminate()
        server.wait(timeout=30)
