#!/usr/bin/env python
"""STOP → webhook received, against real processes on loopback.

    .venv/bin/python bench/webhooks.py [--customers 10000] [--stops 200]
        [--burst 200] [--database-url postgres://…/consent_bench_webhooks]

Seeds the database if it has fewer customers than asked, registers a sending
system with a webhook pointing at a receiver in this process, and starts gunicorn
(2 gthread workers), a Celery worker on Redis (``--redis-url``) and
``manage.py webhook_dispatcher``. Then:

- sequential: one SMS STOP at a time (``POST /api/v1/events``); the time from
  sending the POST until a webhook carrying the key's suppressed row arrives;
- burst: ``--burst`` STOPs from 8 concurrent senders, each timed the same way
  (batches then carry several rows).

Prints p50 / p99 (also written to ``bench/results/webhooks.*``). Every request
loop is bounded in count and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as base  # noqa: E402  (bench/run.py: servers, seeding, percentiles)

ROOT = base.ROOT
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/consent_bench_webhooks"
CLIENT_NAME = "bench-webhooks"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _client_and_webhook(url: str) -> str:
    from consent.api_clients import api_client_create, api_key_rotate
    from consent.models import ApiClient, WebhookEndpoint
    from consent.webhooks import webhook_endpoint_create

    client = ApiClient.objects.filter(name=CLIENT_NAME).first()
    if client is None:
        client, issued = api_client_create(
            name=CLIENT_NAME, channel_codes=["sms"], rate_per_minute=10_000_000
        )
        key = issued.clear
    else:
        key = api_key_rotate(client=client).clear
    WebhookEndpoint.objects.filter(client=client).delete()
    webhook_endpoint_create(client=client, url=url, batch_size=100)
    return key


def _targets(count: int) -> list[str]:
    from consent.models import Channel, Contactability

    sms = Channel.objects.get(code="sms")
    identifiers = list(
        Contactability.objects.filter(
            channel=sms, suppressed=False, identifier__startswith="+8613"
        ).values_list("identifier", flat=True)[: count * 3]
    )
    if len(identifiers) < count:
        sys.exit(f"only {len(identifiers)} permitted SMS keys; seed more customers")
    return random.Random(17).sample(identifiers, count)


class Arrivals:
    """When the first suppressed row for each identifier reached the receiver."""

    def __init__(self, receiver) -> None:
        self.receiver = receiver
        self.seen: dict[str, float] = {}
        self.read = 0

    def poll(self) -> None:
        with self.receiver.arrived:
            messages = self.receiver.messages[self.read :]
            self.read += len(messages)
        for message in messages:
            for row in message.payload["data"]["results"]:
                if row["suppressed"]:
                    self.seen.setdefault(row["identifier"], message.at)

    def wait(self, identifiers, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if all(i in self.seen for i in identifiers):
                return
            if time.monotonic() > deadline:
                missing = [i for i in identifiers if i not in self.seen]
                raise RuntimeError(f"{len(missing)} STOPs never reached the webhook")
            with self.receiver.arrived:
                self.receiver.arrived.wait(0.05)


def _stop_request(http, number: str) -> float:
    response = http.post(
        "/api/v1/events",
        {
            "type": "sms_reply",
            "event_id": f"bench-{uuid.uuid4()}",
            "recipient": number,
            "text": "STOP",
        },
    )
    body = response.read()
    assert response.status in (200, 201), body[:300]
    return time.perf_counter()


def bench_sequential(port: int, key: str, arrivals: Arrivals, targets) -> dict:
    http = base.Http(port, key)
    to_hook, to_return, after_return = [], [], []
    for number in targets:
        started = time.perf_counter()
        returned = _stop_request(http, number)
        arrivals.wait([number])
        hooked = arrivals.seen[number]
        to_hook.append((hooked - started) * 1000)
        to_return.append((returned - started) * 1000)
        after_return.append((hooked - returned) * 1000)
    return _summary(to_hook, to_return, after_return)


def bench_burst(port: int, key: str, arrivals: Arrivals, targets, senders=8) -> dict:
    started_at: dict[str, float] = {}
    returned_at: dict[str, float] = {}
    chunks = [targets[i::senders] for i in range(senders)]

    def send(numbers) -> None:
        http = base.Http(port, key)
        for number in numbers:
            started_at[number] = time.perf_counter()
            returned_at[number] = _stop_request(http, number)

    threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrivals.wait(targets, timeout=120)
    to_hook = [(arrivals.seen[n] - started_at[n]) * 1000 for n in targets]
    to_return = [(returned_at[n] - started_at[n]) * 1000 for n in targets]
    after_return = [(arrivals.seen[n] - returned_at[n]) * 1000 for n in targets]
    return _summary(to_hook, to_return, after_return)


def _summary(to_hook, to_return, after_return) -> dict:
    return {
        "stops": len(to_hook),
        "p50": base._pct(to_hook, 0.5),
        "p99": base._pct(to_hook, 0.99),
        "max": max(to_hook),
        "post_p50": base._pct(to_return, 0.5),
        "post_p99": base._pct(to_return, 0.99),
        "after_post_p50": base._pct(after_return, 0.5),
        "after_post_p99": base._pct(after_return, 0.99),
    }


def table(results: dict) -> str:
    lines = [
        "| measure | STOP → webhook p50 / p99 (max) | POST /events p50 / p99 "
        "| webhook after the POST returned p50 / p99 | webhook p50 ÷ POST p50 |",
        "|---|---|---|---|---|",
    ]
    for label, key in (
        ("sequential", "sequential"),
        ("burst, 8 senders", "burst"),
    ):
        r = results.get(key)
        if not r:
            continue
        lines.append(
            f"| {label}, {r['stops']} STOPs | {r['p50']:.1f} / {r['p99']:.1f} ms "
            f"({r['max']:.0f}) | {r['post_p50']:.1f} / {r['post_p99']:.1f} ms "
            f"| {r['after_post_p50']:.1f} / {r['after_post_p99']:.1f} ms "
            f"| {r['p50'] / r['post_p50']:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--stops", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--hook-port", type=int, default=8798)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    url = args.database_url
    if not url.startswith("postgres"):
        sys.exit("The benchmark runs on PostgreSQL (--database-url postgres://…).")

    os.environ.update(base._env(url))
    os.environ.update(CELERY_BROKER_URL=args.redis_url, CACHE_URL=args.redis_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    base._ensure_database(url)
    base._manage(url, "migrate", "-v0")
    django.setup()
    from django.core.cache import cache

    from tests.consent.webhook_receiver import start_receiver

    seconds = base._seed_to(url, args.customers)
    if seconds is not None:
        print(f"seeded to {args.customers:,} customers in {seconds:.0f} s")
    cache.clear()
    receiver, hook_server = start_receiver(args.hook_port)
    key = _client_and_webhook(receiver.url)
    targets = _targets(args.stops + args.burst)
    logs = Path(tempfile.mkdtemp(prefix="bench_webhooks_"))
    worker = _start(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=2",
        ],
        logs / "worker.log",
    )
    dispatcher = _start(
        [base.PY, "manage.py", "webhook_dispatcher"], logs / "dispatcher.log"
    )
    results: dict = {}
    try:
        with base.running(url, args.port) as server:
            time.sleep(3)  # the worker has connected to the broker
            arrivals = Arrivals(receiver)
            results["sequential"] = bench_sequential(
                server.port, key, arrivals, targets[: args.stops]
            )
            if args.burst:
                results["burst"] = bench_burst(
                    server.port, key, arrivals, targets[args.stops :]
                )
    finally:
        _stop(dispatcher)
        _stop(worker)
        hook_server.shutdown()
        hook_server.server_close()
    print(table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "webhooks.json").write_text(json.dumps(results, indent=2))
    (out / "webhooks.md").write_text(table(results) + "\n")


if __name__ == "__main__":
    main()
