"""Sentry is optional and sends no personal data."""

from __future__ import annotations

import subprocess
import sys

import sentry_sdk

from config.sentry import before_send, sentry_init
from tests.backoffice.test_deploy_check import BASE_DIR, production_env


def test_before_send_drops_request_data_user_and_masks_addresses():
    event = {
        "message": "no route to alice.chen@example.com",
        "user": {"id": 7, "email": "ann@bank.example"},
        "request": {
            "url": "https://consent.example.com/u/abc?x=+8613800138000",
            "data": {"identifier": "13800138000"},
            "cookies": {"sessionid": "s"},
            "query_string": "identifier=13800138000",
            "headers": {"Authorization": "Bearer ck_x", "User-Agent": "curl"},
        },
        "exception": {
            "values": [
                {
                    "value": "bad recipient +86 138 0013 8000",
                    "stacktrace": {"frames": [{"vars": {"phone": "13800138000"}}]},
                }
            ]
        },
    }
    out = before_send(event, None)
    text = repr(out)
    for secret in (
        "13800138000",
        "138 0013 8000",
        "alice.chen",
        "ann@",
        "ck_x",
        "sessionid",
    ):
        assert secret not in text, secret
    assert out["request"]["url"] == "https://consent.example.com/u/abc"
    assert out["request"]["headers"] == {"User-Agent": "curl"}
    assert "user" not in out


def test_sentry_init_sends_no_default_pii(monkeypatch):
    seen = {}
    monkeypatch.setattr(sentry_sdk, "init", lambda **kw: seen.update(kw))
    sentry_init(dsn="https://key@sentry.example.com/1", environment="production")
    assert seen["send_default_pii"] is False
    assert seen["include_local_variables"] is False
    assert seen["before_send"] is before_send


def test_sentry_starts_only_with_a_dsn(tmp_path):
    script = (
        "import django; django.setup(); import sentry_sdk; "
        "c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options.get('send_default_pii'))"
    )
    env = production_env(tmp_path)
    off = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert off.stdout.split()[0] == "False", off.stderr
    env["SENTRY_DSN"] = "https://key@127.0.0.1:9/1"
    on = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert on.stdout.split() == ["True", "False"], on.stderr
