"""Tracking benchmark: page views through the public endpoint in batches of 20, served as `nurture run` serves.

Run: .venv/bin/python bench/events.py   (SQLite; set DATABASE_URL=postgres://.../anything for PostgreSQL, which
uses a scratch database nurture_bench_tracking, dropped afterwards)
Concurrent clients on loopback post batches of 20 page views as the snippet does (text/plain, an allowed
Origin); the server is `nurture run --no-worker` (gunicorn, 2 processes x 4 threads). Then the worker drains
the staged events (printed, not part of the figures). Prints progress, then ONE JSON line with
events_per_s, p99_ms, server_rss_mb.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402 - the ingest benchmark's server and process helpers

ROOT = ingest.ROOT
PYTHON = ingest.PYTHON
ORIGIN = "https://www.example.vn"
BATCH = 20


def rss_tree_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants (nurture run -> gunicorn master -> workers)."""
    total, pending = 0, [root_pid]
    while pending:
        pid = pending.pop()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            pending += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            continue
    return total / 1024


class TreeSampler(ingest.RssSampler):
    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_tree_mb(self.pid))
            time.sleep(0.2)


def batches(n: int, seed: int) -> list[bytes]:
    """n batches of 20 page views, one visitor each, a third of them landing from a tagged ad."""
    bodies = []
    for b in range(n):
        events: list[dict[str, Any]] = []
        for i in range(BATCH):
            event: dict[str, Any] = {"type": "page", "url": f"{ORIGIN}/khoa-hoc/{i}?ref={b}", "title": f"Khóa học {i}",
                                     "referrer": f"{ORIGIN}/", "ts": 1_700_000_000_000 + i * 1000}  # fmt: skip
            if i == 0 and b % 3 == 0:
                event["utm"] = {"source": "facebook", "medium": "cpc", "campaign": f"camp-{b % 7}"}
                event["referrer"] = "https://l.facebook.com/"
            events.append(event)
        body = {"anonymous_id": f"bench{seed:03d}visitor{b:09d}", "sent_at": 1_700_000_020_000, "events": events}
        bodies.append(json.dumps(body).encode())
    return bodies


def run_clients(port: int, bodies: list[bytes], threads: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}

    def client(items: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for body in items:
            start = time.perf_counter()
            conn.request("POST", "/t/collect", body, headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 202:
                errors.append(response.status)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(bodies[i::threads],)) for i in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} batches refused, e.g. HTTP {errors[0]}")
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3000, help="batches of 20 page views to send")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--drain", type=int, default=500, help="batches the worker records afterwards (0: skip)")
    args = parser.parse_args()

    ingest.BENCH_DB = "nurture_bench_tracking"
    tmp = Path(tempfile.mkdtemp(prefix="nurture-bench-events-"))
    env = ingest.prepare_env(tmp / "var")
    # The per-address limit protects against one flooding browser; the clients here all share 127.0.0.1.
    env["NURTURE_TRACKING_RATE_LIMIT"] = "1000000"
    database = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    ingest.manage(env, "migrate", "-v0")
    ingest.manage(env, "shell", "-c", (
        "from nurture.capture.actions import save_tracked_site; from nurture.capture.models import TrackedSite;"
        f"save_tracked_site(TrackedSite(), origin={ORIGIN!r}, require_consent=False)"
    ))  # fmt: skip
    port = ingest.free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "nurture.cli", "run", "--no-worker", "--no-demo", "--bind", f"127.0.0.1:{port}",
         "--web-workers", str(args.web_workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    sampler = TreeSampler(server.pid)
    try:
        ingest.wait_until_up(port)
        sampler.start()
        print(f"server up on {port} ({database}, {args.web_workers} processes x 4 threads)", file=sys.stderr)
        run_clients(port, batches(200, seed=1), threads=args.clients)  # warm up
        elapsed, latencies = run_clients(port, batches(args.batches, seed=2), threads=args.clients)
    finally:
        sampler.running = False
        server.terminate()
        server.wait(timeout=30)
    rate = args.batches * BATCH / elapsed
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"ingest: {rate:.0f} events/s, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99:.1f} ms, "
          f"peak RSS {sampler.peak:.0f} MB", file=sys.stderr)  # fmt: skip
    if args.drain:
        drain(env, args.drain)
    if database == "postgresql":
        drop(env)
    result = {"events_per_s": round(rate, 1), "p99_ms": round(p99, 1), "server_rss_mb": round(sampler.peak, 1)}
    print(json.dumps(result))


def drain(env: dict[str, str], n: int) -> None:
    """How fast the worker turns staged events into contacts and timelines (printed only)."""
    keep = (
        "from nurture.capture.models import StagedEvent as S\n"
        f"last = S.objects.order_by('id').values_list('id', flat=True)[{n * BATCH - 1}]\n"
        "S.objects.filter(pk__gt=last).delete()"
    )
    ingest.manage(env, "shell", "-c", keep)
    started = time.perf_counter()
    out = ingest.manage(env, "shell", "-c", (
        "from nurture.capture.tracking import process_staged_events as step\n"
        "from nurture.contacts.models import Event\n"
        "while step(): pass\n"
        "print(Event.objects.filter(type='page_viewed').count())"
    ))  # fmt: skip
    elapsed = time.perf_counter() - started
    recorded = int(out.strip().splitlines()[-1])
    print(
        f"worker: {recorded} page views recorded in {elapsed:.1f} s ({recorded / elapsed:.0f}/s, "
        "including process start)",
        file=sys.stderr,
    )


def drop(env: dict[str, str]) -> None:
    import psycopg

    base = env["DATABASE_URL"].rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {ingest.BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
