#!/usr/bin/env python
"""The write path under a STOP storm, as ratios to this stack's floor in one run.

    .venv/bin/python bench/write_path.py [--customers 1000000] [--seconds 20]

Against the seeded bench database (``bench/run.py`` seeds it; this script seeds it
too if it has fewer customers than asked), with gunicorn 2 workers x 4 threads and
persistent connections for every server:

- floor: requests/s of a minimal Django view that commits one single-row insert
  (``bench/floor_urls.py``), 8 concurrent clients, same load tool;
- pgbench: single-row inserts/s, 8 clients, on the same server;
- STOP throughput: ``POST /api/v1/events`` SMS STOPs/s, 8 concurrent clients, each
  STOP for another number; reported as a ratio to the floor (target >= 0.25x) and to
  pgbench;
- stop->feed with 8 concurrent writers (at full load, and paced) and with one:
  from the STOP response to the row being read through ``changes`` by a reader
  long-polling the feed (``wait``; p50/p99, target p99 < 50 ms). The reader holds
  a server thread while it waits, so these runs use 2 workers x 5 threads; the
  throughput run has no reader.

Every request loop is bounded in time and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
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
import run as common  # noqa: E402

CLIENTS = 8


def _hammer(
    port: int, seconds: float, make_request, clients: int = CLIENTS
) -> tuple[int, list]:
    """``clients`` threads, each on its own keep-alive connection, sending requests
    back to back for ``seconds``. Returns requests completed and per-request
    (what, returned_at) records."""
    deadline = time.perf_counter() + seconds
    done: list = []
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        i = 0
        while time.perf_counter() < deadline:
            method, path, body, headers, what = make_request(n, i)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            assert response.status in (200, 201), payload[:300]
            mine.append((what, time.perf_counter()))
            i += 1
        with lock:
            done.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done), done


def bench_floor(url: str, port: int, seconds: float) -> float:
    import psycopg
    from floor_urls import CREATE

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE)
    # floor_wsgi selects bench.floor_settings itself.
    server = common.Server(
        url, port, 2, app="bench.floor_wsgi:application", probe="/floor"
    )
    try:
        _hammer(port, 2, _floor_request)  # warm up every worker's connection
        count, _ = _hammer(port, seconds, _floor_request)
    finally:
        server.stop()
    return count / seconds


def _floor_request(n: int, i: int):
    return "POST", "/floor", f"{n}-{i}", {"Content-Type": "text/plain"}, None


def bench_pgbench(url: str, seconds: float) -> float:
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("INSERT INTO bench_floor (body) VALUES ('pgbench');\n")
    script.close()
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(CLIENTS),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-f",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise RuntimeError(out)


def _numbers(count: int) -> list[str]:
    from consent.models import Channel, Contactability

    sms = Channel.objects.get(code="sms")
    numbers = list(
        Contactability.objects.filter(
            channel=sms, suppressed=False, identifier__startswith="+8613"
        ).values_list("identifier", flat=True)[: count * 2]
    )
    random.Random(5).shuffle(numbers)
    return numbers[:count]


def bench_stops(
    port: int,
    key: str,
    seconds: float,
    numbers: list[str],
    pace: float = 0.0,
    writers: int = CLIENTS,
    read: bool = True,
) -> tuple[float, dict]:
    """STOPs from ``writers`` clients (``pace`` seconds between a writer's STOPs)
    while a reader long-polls the feed (``changes?wait=10``: the server answers as
    soon as a row commits); returns STOPs/s and stop->feed percentiles."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    http_status = common.Http(port, key)
    after = json.loads(http_status.get("/api/v1/suppression/status").read())["last_seq"]
    per_client = len(numbers) // writers
    seen: dict[str, float] = {}
    stop_reading = threading.Event()

    def reader() -> None:
        nonlocal after
        conn = common.Http(port, key)
        while not stop_reading.is_set():
            response = conn.get(
                "/api/v1/suppression/changes",
                channel="sms",
                after=after,
                limit=1000,
                wait=2,
            )
            page = json.loads(response.read())
            now = time.perf_counter()
            for row in page["results"]:
                after = row["seq"]
                if row["suppressed"]:
                    seen.setdefault(row["identifier"], now)

    def make(n: int, i: int):
        if pace:
            time.sleep(pace)
        number = numbers[n * per_client + i % per_client]
        body = json.dumps(
            {
                "type": "sms_reply",
                "event_id": f"bench-{uuid.uuid4()}",
                "recipient": number,
                "text": "STOP",
            }
        )
        return "POST", "/api/v1/events", body, auth, number

    thread = threading.Thread(target=reader if read else stop_reading.wait)
    thread.start()
    count, done = _hammer(port, seconds, make, clients=writers)
    time.sleep(2.5)
    stop_reading.set()
    thread.join()
    latencies = [
        max(0.0, seen[number] - returned) * 1000
        for number, returned in done
        if number in seen
    ]
    missing = sum(1 for number, _ in done if number not in seen)
    return count / seconds, {
        "p50": common._pct(latencies, 0.5),
        "p99": common._pct(latencies, 0.99),
        "stops": len(done),
        "missing": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", common.DEFAULT_DB),
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8797)
    args = parser.parse_args()
    url = args.database_url
    os.environ.update(common._env(url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    common._ensure_database(url)
    common._manage(url, "migrate", "-v0")
    seconds = common._seed_to(url, args.customers)
    if seconds is not None:
        print(f"seeded to {args.customers:,} customers in {seconds:.0f} s")
    key = common._api_key()

    floor = bench_floor(url, args.port + 1, args.seconds)
    pgbench = bench_pgbench(url, args.seconds)
    # Disjoint numbers for every run; a storm cannot go faster than the floor.
    storm_size = int(max(floor, 100) * args.seconds * 1.2) + CLIENTS
    numbers = _numbers(2 * storm_size + 800 + 2000 + 300)
    warm, paced_numbers = numbers[:800], numbers[800:2800]
    single_numbers = numbers[2800:3100]
    storm_numbers = numbers[3100 : 3100 + storm_size]
    loaded_numbers = numbers[3100 + storm_size :]
    # Throughput as the issue defines it: 8 clients against 2 workers x 4 threads.
    with common.running(url, args.port) as server:
        bench_stops(server.port, key, 2, warm, read=False)  # every worker warm
        stops_s, _ = bench_stops(
            server.port, key, args.seconds, storm_numbers, read=False
        )
    # A long-polling reader holds a server thread while it waits: the latency runs
    # give it one of its own (2 workers x 5 threads for 8 writers and 1 reader).
    with common.running(url, args.port, threads=5) as server:
        bench_stops(server.port, key, 2, warm[:100])
        _rate, storm = bench_stops(server.port, key, args.seconds, loaded_numbers)
        _rate, paced = bench_stops(server.port, key, 10, paced_numbers, pace=0.05)
        _rate, single = bench_stops(
            server.port, key, 10, single_numbers, pace=0.05, writers=1
        )
    results = {
        "floor_rps": floor,
        "pgbench_tps": pgbench,
        "stops_per_s": stops_s,
        "ratio_floor": stops_s / floor,
        "ratio_pgbench": stops_s / pgbench,
        "storm": storm,
        "paced": paced,
        "single": single,
    }
    rows = [
        (
            "STOP throughput, 8 clients",
            f"{stops_s:,.0f} STOPs/s vs floor {floor:,.0f} req/s "
            f"({stops_s / floor:.3f}x); pgbench {pgbench:,.0f} tps "
            f"({stops_s / pgbench:.4f}x)",
            ">= 0.25x floor",
            stops_s / floor >= 0.25,
        ),
        (
            "stop->feed, 8 writers at full load, p50 / p99 (2x5 threads)",
            f"{storm['p50']:.1f} / {storm['p99']:.1f} ms ({storm['stops']} STOPs)",
            "p99 < 50 ms",
            storm["p99"] < 50,
        ),
        (
            "stop->feed, 1 writer pausing 50 ms, p50 / p99 (2x5 threads)",
            f"{single['p50']:.1f} / {single['p99']:.1f} ms ({single['stops']} STOPs)",
            "p99 < 50 ms",
            single["p99"] < 50,
        ),
        (
            "stop->feed, 8 writers each pausing 50 ms, p50 / p99 (2x5 threads)",
            f"{paced['p50']:.1f} / {paced['p99']:.1f} ms ({paced['stops']} STOPs)",
            "p99 < 50 ms",
            paced["p99"] < 50,
        ),
    ]
    lines = ["| measure | result | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'yes' if d else 'NO'} |" for a, b, c, d in rows]
    print("\n".join(lines))
    out = common.ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "write-path.json").write_text(json.dumps(results, indent=2))
    (out / "write-path.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
