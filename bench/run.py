#!/usr/bin/env python
"""Benchmarks of the suppression sync API on PostgreSQL, against a real server.

    .venv/bin/python bench/run.py [--customers 1000000] [--small 100000]
        [--only snapshot,check,changes,stop]

Seeds two bench databases if they have fewer customers than asked
(``seed_customers``): DATABASE (--customers) and DATABASE_small (--small), starts
gunicorn on a loopback port against each, and prints a table:

- stop->feed: POST an ``sms_reply`` STOP to /api/v1/events, then long-poll
  ``changes?wait=5`` until the key's new state is there; p50/p99 over --stops.
- snapshot: rows/s of the API (CSV and NDJSON) against ``psql -c "COPY (...) TO
  STDOUT"`` of the same rows in the same format, and the serving worker's peak
  memory, at --small customers and at --customers.
- check: the server's own time (Server-Timing) for 1,000-recipient batches.
- changes: a 10,000-row page at the start and at the end of the feed.

Every request loop is bounded in count and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/consent_bench"
CLIENT_NAME = "bench"
PARTS = ("snapshot", "check", "changes", "stop")


def _env(url: str) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=url, DEBUG="0", LOG_LEVEL="WARNING", AXES_ENABLED="0")
    return env


def _manage(url: str, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=_env(url), check=True)


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _seeded() -> int:
    from consent.models import Customer

    return Customer.objects.filter(external_ref__startswith="SEED").count()


def _seed_to(url: str, count: int) -> float | None:
    have = _seeded()
    if have >= count:
        return None
    started = time.perf_counter()
    _manage(url, "seed_customers", "--count", str(count - have))
    return time.perf_counter() - started


def _api_key() -> str:
    from consent.api_clients import api_client_create, api_key_rotate
    from consent.models import ApiClient, Channel

    client = ApiClient.objects.filter(name=CLIENT_NAME).first()
    if client is None:
        client, issued = api_client_create(
            name=CLIENT_NAME,
            channel_codes=list(Channel.objects.values_list("code", flat=True)),
            rate_per_minute=10_000_000,
        )
        return issued.clear
    return api_key_rotate(client=client).clear


# --- the server ---------------------------------------------------------------------


class Server:
    def __init__(
        self,
        url: str,
        port: int,
        workers: int,
        app: str = "config.wsgi:application",
        probe: str = "/api/v1/suppression/status",
        threads: int = 4,
    ) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                app,
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(workers),
                "-k",
                "gthread",
                "--threads",
                str(threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=_env(url),
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", probe)
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@contextmanager
def running(url: str, port: int, workers: int = 2, threads: int = 4):
    server = Server(url, port, workers, threads=threads)
    try:
        yield server
    finally:
        server.stop()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples the workers' resident memory every 10 ms while a request runs."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.baseline = {pid: _rss_kb(pid) for pid in pids}
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], _rss_kb(pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return max(self.peak.values()) / 1024

    @property
    def growth_mb(self) -> float:
        return max(self.peak[p] - self.baseline[p] for p in self.pids) / 1024


class Http:
    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.auth = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **params):
        self.conn.request("GET", f"{path}?{urlencode(params)}", headers=self.auth)
        return self.conn.getresponse()

    def post(self, path: str, body: dict):
        headers = {**self.auth, "Content-Type": "application/json"}
        self.conn.request("POST", path, body=json.dumps(body), headers=headers)
        return self.conn.getresponse()


def _server_ms(response) -> float:
    timing = response.getheader("Server-Timing", "app;dur=0")
    return float(timing.split("dur=")[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --- the measurements ---------------------------------------------------------------


def _raw_copy_seconds(url: str, fmt: str, channel_id: int) -> tuple[float, int]:
    import psycopg

    from consent import selectors

    statement = selectors.snapshot_copy_statement(fmt=fmt, hashed=False)
    with psycopg.connect(url) as conn:
        sql = psycopg.ClientCursor(conn).mogrify(
            statement, {"channels": [channel_id], "hmac_key": None}
        )
    started = time.perf_counter()
    out = subprocess.run(
        ["psql", url, "-X", "-q", "-c", sql], capture_output=True, check=True
    ).stdout
    return time.perf_counter() - started, out.count(b"\n")


def bench_snapshot(url: str, server: Server, key: str) -> dict:
    from consent.models import Channel

    sms = Channel.objects.get(code="sms").pk
    result = {}
    for fmt in ("csv", "ndjson"):
        raw_s, raw_rows = _raw_copy_seconds(url, fmt, sms)
        http = Http(server.port, key)
        with PeakMemory(server.workers()) as memory:
            started = time.perf_counter()
            response = http.get(
                "/api/v1/suppression/snapshot", channel="sms", format=fmt
            )
            lines = 0
            while block := response.read(1 << 18):
                lines += block.count(b"\n")
            api_s = time.perf_counter() - started
        rows = lines - (1 if fmt == "csv" else 0)
        assert rows == raw_rows, (rows, raw_rows)
        result[fmt] = {
            "rows": rows,
            "api_rows_s": rows / api_s,
            "copy_rows_s": raw_rows / raw_s,
            "ratio": raw_s / api_s,
            "peak_mb": memory.peak_mb,
            "growth_mb": memory.growth_mb,
        }
    return result


def _prewarm(url: str) -> bool:
    """Steady state for a sync API is its keys in memory: read the contactability
    table and its key index into the OS cache (pg_prewarm 'read' mode) so random
    check lookups are not measured against a cold disk. False if unavailable."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            for rel in ("consent_checkkey", "consent_checkkey_pkey"):
                conn.execute("SELECT pg_prewarm(%s, 'read')", [rel])
    except psycopg.Error:
        return False
    return True


_RAW_CHECK = (
    "SELECT digest, permitted, held, reasons, quiet_start, quiet_end, quiet_tz, "
    "max_per_week FROM consent_checkkey WHERE channel_id = %s AND digest = ANY(%s)"
)


def bench_check(server: Server, key: str, calls: int, url: str) -> dict:
    """Server time of a 1,000-recipient check, and in the same loop a raw lookup of
    the same 1,000 keys by their blind index through psycopg (the floor)."""
    import psycopg

    from consent import crypto
    from consent.identifiers import normalise_many
    from consent.models import Channel, Customer

    ids = list(
        Customer.objects.filter(external_ref__startswith="SEED").values_list(
            "pk", flat=True
        )
    )
    sms = Channel.objects.get(code="sms")
    index_for = crypto.blind_indexer("phone:")
    rng = random.Random(7)
    http = Http(server.port, key)
    server_ms, total_ms, raw_ms = [], [], []
    with psycopg.connect(url, autocommit=True) as raw:
        for n in range(calls + 10):
            recipients = [f"+8613{cid:09d}" for cid in rng.sample(ids, 950)]
            recipients += [f"+8615{rng.randrange(10**9):09d}" for _ in range(50)]
            started = time.perf_counter()
            response = http.post(
                "/api/v1/suppression/check",
                {"channel": "sms", "topic": "credit_card", "recipients": recipients},
            )
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, body[:300]
            digests = [
                bytes.fromhex(index_for(normalise_many("phone", r))) for r in recipients
            ]
            started = time.perf_counter()
            found = raw.execute(_RAW_CHECK, [sms.pk, digests]).fetchall()
            raw_elapsed = (time.perf_counter() - started) * 1000
            assert len(found) >= 900, len(found)
            if n >= 10:  # warm-up first
                server_ms.append(_server_ms(response))
                total_ms.append(elapsed)
                raw_ms.append(raw_elapsed)
    return {
        "p50": _pct(server_ms, 0.5),
        "p99": _pct(server_ms, 0.99),
        "rt_p50": _pct(total_ms, 0.5),
        "raw_p50": _pct(raw_ms, 0.5),
        "ratio_raw": _pct(server_ms, 0.5) / _pct(raw_ms, 0.5),
        "calls": calls,
    }


def bench_changes(server: Server, key: str, runs: int = 7) -> dict:
    from consent.models import Channel, SuppressionChange

    sms = Channel.objects.get(code="sms")
    end_after = (
        SuppressionChange.objects.filter(channel=sms)
        .order_by("-seq")
        .values_list("seq", flat=True)[10_000]
    )
    http = Http(server.port, key)
    times: dict[str, list[float]] = {"start": [], "end": []}
    for _ in range(runs):
        for label, after in (("start", 0), ("end", end_after)):
            started = time.perf_counter()
            response = http.get(
                "/api/v1/suppression/changes", channel="sms", after=after, limit=10_000
            )
            body = json.loads(response.read())
            times[label].append((time.perf_counter() - started) * 1000)
            assert len(body["results"]) == 10_000
    start, end = statistics.median(times["start"]), statistics.median(times["end"])
    return {"start_ms": start, "end_ms": end, "ratio": end / start}


def bench_stop_to_feed(server: Server, key: str, stops: int) -> dict:
    from consent.models import Channel, Contactability

    sms = Channel.objects.get(code="sms")
    identifiers = list(
        Contactability.objects.filter(
            channel=sms, suppressed=False, identifier__startswith="+8613"
        ).values_list("identifier", flat=True)[: stops * 3]
    )
    rng = random.Random(11)
    targets = rng.sample(identifiers, stops)
    http = Http(server.port, key)
    after = json.loads(http.get("/api/v1/suppression/status").read())["last_seq"]
    latencies, posts, events_server = [], [], []
    for number in targets:
        started = time.perf_counter()
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
        posts.append((time.perf_counter() - started) * 1000)
        events_server.append(_server_ms(response))
        found = False
        for _ in range(1000):
            page = json.loads(
                http.get(
                    "/api/v1/suppression/changes",
                    channel="sms",
                    after=after,
                    limit=100,
                    wait=5,
                ).read()
            )
            for row in page["results"]:
                after = row["seq"]
                found = found or (row["identifier"] == number and row["suppressed"])
            if found:
                break
        latencies.append((time.perf_counter() - started) * 1000)
        assert found, number
    return {
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
        "post_p50": _pct(posts, 0.5),
        "events_server_p50": _pct(events_server, 0.5),
        "events_server_p99": _pct(events_server, 0.99),
        "stops": stops,
    }


# --- the table ----------------------------------------------------------------------


def table(results: dict) -> str:
    rows = []
    if stop := results.get("stop"):
        rows.append(
            (
                "stop->feed p50 / p99",
                f"{stop['p50']:.1f} / {stop['p99']:.1f} ms (of which POST /events "
                f"server time p50 {stop['events_server_p50']:.1f}, "
                f"p99 {stop['events_server_p99']:.1f} ms)",
                "p99 < 50 ms",
                stop["p99"] < 50,
            )
        )
    if "snapshot_big" in results:
        snap_small, snap_big = results["snapshot_small"], results["snapshot_big"]
        for fmt in ("csv", "ndjson"):
            for snap in (snap_small, snap_big):
                s = snap[fmt]
                rows.append(
                    (
                        f"snapshot {fmt}, {s['rows']:,} rows",
                        f"{s['api_rows_s']:,.0f} rows/s vs COPY "
                        f"{s['copy_rows_s']:,.0f} ({s['ratio']:.2f}x)",
                        ">= 0.5x COPY",
                        s["ratio"] >= 0.5,
                    )
                )
            small, big = snap_small[fmt], snap_big[fmt]
            rows.append(
                (
                    f"snapshot {fmt} worker peak RSS",
                    f"{small['peak_mb']:.0f} MB at {small['rows']:,} rows, "
                    f"{big['peak_mb']:.0f} MB at {big['rows']:,} rows",
                    "flat",
                    big["peak_mb"] <= small["peak_mb"] * 1.25 + 10,
                )
            )
    if check := results.get("check"):
        rows.append(
            (
                "check 1,000 recipients, server p50 / p99",
                f"{check['p50']:.1f} / {check['p99']:.1f} ms "
                f"(round trip p50 {check['rt_p50']:.1f} ms)",
                "p50 < 15 ms",
                check["p50"] < 15,
            )
        )
        rows.append(
            (
                "check vs raw SQL lookup of the same 1,000 keys, p50",
                f"{check['p50']:.1f} vs {check['raw_p50']:.1f} ms "
                f"({check['ratio_raw']:.2f}x)",
                "<= 2x",
                check["ratio_raw"] <= 2,
            )
        )
    if changes := results.get("changes"):
        rows.append(
            (
                "changes 10,000-row page start / end",
                f"{changes['start_ms']:.0f} / {changes['end_ms']:.0f} ms "
                f"({changes['ratio']:.2f}x)",
                "<= 1.5x",
                changes["ratio"] <= 1.5,
            )
        )
    lines = ["| measure | result | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if d else 'NO'} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--stops", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help="comma-separated parts to run (default all): " + ", ".join(PARTS),
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(PARTS):
        sys.exit(f"unknown part(s): {', '.join(sorted(only - set(PARTS)))}")
    url = args.database_url
    if not url.startswith("postgres"):
        sys.exit("The benchmarks run on PostgreSQL (--database-url postgres://…).")

    small_url = f"{url}_small"
    os.environ.update(_env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    results: dict = {}
    # Memory flatness needs the same measurement at two sizes: a second database
    # holds --small customers.
    for db_url, count, label in (
        (small_url, args.small, "small"),
        (url, args.customers, "big"),
    ):
        if label == "small" and "snapshot" not in only:
            continue
        _ensure_database(db_url)
        _manage(db_url, "migrate", "-v0")
        connection.close()
        connection.settings_dict["NAME"] = db_url.rsplit("/", 1)[1]
        seconds = _seed_to(db_url, count)
        if seconds is not None:
            print(f"seeded {label} database to {count:,} customers in {seconds:.0f} s")
        key = _api_key()
        with running(db_url, args.port) as server:
            if "snapshot" in only:
                results[f"snapshot_{label}"] = bench_snapshot(db_url, server, key)
            if label == "big":
                if "check" in only:
                    results["prewarmed"] = _prewarm(db_url)
                    results["check"] = bench_check(server, key, args.checks, db_url)
                if "changes" in only:
                    results["changes"] = bench_changes(server, key)
                if "stop" in only:
                    results["stop"] = bench_stop_to_feed(server, key, args.stops)
    print(table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    # A partial run (--only) does not overwrite the last full run's figures.
    name = "last-run" if only == set(PARTS) else "last-run-" + "-".join(sorted(only))
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    (out / f"{name}.md").write_text(table(results) + "\n")


if __name__ == "__main__":
    main()
