"""End-to-end smoke test against the real processes that .ci/processes.sh started:
gunicorn, a Celery worker on Redis, Celery beat and the webhook dispatcher, all on
PostgreSQL. Everything goes over HTTP or through the processes' own effects.

Prints one line per check and closes with "N passed, M failed"; exit 1 on a failure.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

import psycopg

BASE = os.environ["SMOKE_BASE_URL"].rstrip("/")
API_KEY = os.environ["SMOKE_API_KEY"]
HOOK_FILE = os.environ["SMOKE_HOOK_FILE"]  # written by .ci/webhook_receiver.py
UNSUBSCRIBE_URL = os.environ["SMOKE_UNSUBSCRIBE_URL"]
MESSAGE_DIR = os.environ["SMOKE_MESSAGE_DIR"]
DATABASE_URL = os.environ["SMOKE_DATABASE_URL"]
WORKER_LOG = os.environ["SMOKE_WORKER_LOG"]

PORTAL_PHONE = "+8613700137000"  # DEMO0003: sms car_loan, stopped by its link
API_PHONE = "+8613800138000"  # DEMO0001 and DEMO0005: an SMS STOP through the API
COMPLAINT_EMAIL = "alice.chen@example.com"  # DEMO0002: a spam complaint


def hook_messages() -> list[dict]:
    if not os.path.exists(HOOK_FILE):
        return []
    with open(HOOK_FILE, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def hook_rows() -> list[dict]:
    return [row for m in hook_messages() for row in m.get("rows", [])]


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def hooked(identifier: str) -> bool:
    return any(r["identifier"] == identifier and r["suppressed"] for r in hook_rows())


def api(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/json",
            "Accept-Language": "en",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def sql(query: str, params=()) -> list[tuple]:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def feed_has(identifier: str, after: int = 0) -> bool:
    status, page = api("GET", f"/api/v1/suppression/changes?after={after}&limit=10000")
    return status == 200 and any(
        r["identifier"] == identifier and r["suppressed"] for r in page["results"]
    )


# --- checks -------------------------------------------------------------------------


def check_portal_stop_reaches_feed_and_webhook() -> str:
    with urllib.request.urlopen(UNSUBSCRIBE_URL, timeout=30) as page:
        assert page.status == 200, page.status
    post = urllib.request.Request(UNSUBSCRIBE_URL, data=b"", method="POST")
    with urllib.request.urlopen(post, timeout=30) as done:
        assert done.status == 200, done.status
    assert feed_has(PORTAL_PHONE), "the portal stop is not in the feed"
    started = time.perf_counter()
    assert wait_until(lambda: hooked(PORTAL_PHONE), 30), "no webhook for it"
    return f"webhook {1000 * (time.perf_counter() - started):.0f} ms after the feed"


def check_api_stop_reaches_feed_and_webhook() -> str:
    started = time.perf_counter()
    status, body = api(
        "POST",
        "/api/v1/events",
        {
            "type": "sms_reply",
            "event_id": "smoke-stop-1",
            "recipient": API_PHONE,
            "text": "STOP",
        },
    )
    assert status == 201, (status, body)
    assert body["effect"] == "stop", body
    assert feed_has(API_PHONE, after=body["feed_seq"] - 1), "not in the feed"
    assert wait_until(lambda: hooked(API_PHONE), 30), "no webhook for it"
    return f"STOP → webhook {1000 * (time.perf_counter() - started):.0f} ms"


def check_acknowledgement_is_processed_by_the_worker() -> str:
    before = set(os.listdir(MESSAGE_DIR)) if os.path.isdir(MESSAGE_DIR) else set()
    status, body = api(
        "POST",
        "/api/v1/events",
        {
            "type": "spam_complaint",
            "event_id": "smoke-spam-1",
            "recipient": COMPLAINT_EMAIL,
            "channel": "email",
        },
    )
    assert status == 201, (status, body)
    (reference,) = body["complaints"]

    def acknowledged() -> bool:
        rows = sql(
            "SELECT status FROM complaints_complaint WHERE reference = %s", [reference]
        )
        return bool(rows) and rows[0][0] == "acknowledged"

    assert wait_until(acknowledged, 60), "the worker did not acknowledge it"

    def message_written() -> bool:
        if not os.path.isdir(MESSAGE_DIR):
            return False
        for name in set(os.listdir(MESSAGE_DIR)) - before:
            with open(os.path.join(MESSAGE_DIR, name), encoding="utf-8") as fh:
                if reference in fh.read():
                    return True
        return False

    assert wait_until(message_written, 60), "no acknowledgement message was sent"
    return f"{reference} acknowledged, message sent by the worker"


def check_a_beat_task_runs() -> str:
    # A client staged as stale by the set-up: beat's per-minute lag check alerts.
    def alerted() -> bool:
        return bool(
            sql(
                "SELECT 1 FROM backoffice_anomalyalert "
                "WHERE rule = 'sender_stale' AND username = 'stale-dialer'"
            )
        )

    assert wait_until(alerted, 150), "beat's sender lag check did not run"
    with open(WORKER_LOG, encoding="utf-8", errors="replace") as fh:
        log = fh.read()
    assert "backoffice.tasks.sender_lag_check_task" in log, "not in the worker log"
    return "check-sender-lag ran on the worker"


def check_webhook_signatures() -> str:
    refused = [m["refused"] for m in hook_messages() if "refused" in m]
    assert not refused, refused
    seqs = [r["seq"] for r in hook_rows()]
    assert seqs, "no webhook arrived"
    assert seqs == sorted(seqs), "rows out of feed order"
    return f"{len(seqs)} rows, every message signed, in feed order"


CHECKS = [
    check_portal_stop_reaches_feed_and_webhook,
    check_api_stop_reaches_feed_and_webhook,
    check_acknowledgement_is_processed_by_the_worker,
    check_a_beat_task_runs,
    check_webhook_signatures,
]


def main() -> int:
    passed = failed = 0
    for check in CHECKS:
        try:
            note = check()
        except Exception as exc:  # report and go on with the next check
            failed += 1
            print(f"FAIL {check.__name__}: {type(exc).__name__}: {exc}", flush=True)
        else:
            passed += 1
            print(f"ok   {check.__name__}: {note}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
