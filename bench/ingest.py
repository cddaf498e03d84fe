"""Ingest benchmark: single-lead API, batch API and CSV import against a freshly started server.

Run: .venv/bin/python bench/ingest.py   (SQLite; set DATABASE_URL=postgres://... for PostgreSQL)
Prints progress, then ONE JSON line with single_leads_per_s, single_p50_ms, single_p99_ms,
batch_leads_per_s, import_rows_per_s, server_rss_mb.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
BENCH_DB = "nurture_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_env(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ, NURTURE_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="nurture.settings")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, _name = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        env["DATABASE_URL"] = f"{base}/{BENCH_DB}"
    return env


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([PYTHON, "-m", "nurture.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"nurture {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def rss_mb(root_pid: int) -> float:
    """Resident memory of a process and its children (the gunicorn master and workers)."""
    total = 0
    pids = [root_pid]
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.2)


def leads(n: int, seed: int) -> list[dict[str, Any]]:
    from nurture.contacts.fake import fake_leads

    rows = list(fake_leads(n, seed=seed))
    for i, row in enumerate(rows):  # unique people, so every request creates a contact
        row["phone"] = f"09{seed % 10}{i:07d}"
        row.pop("email", None)
    return rows


def post(conn: http.client.HTTPConnection, path: str, body: Any, key: str) -> int:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    return response.status


def run_clients(port: int, key: str, path: str, payloads: list[Any], threads: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    chunks = [payloads[i::threads] for i in range(threads)]

    def client(items: list[Any]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for body in items:
            start = time.perf_counter()
            status = post(conn, path, body, key)
            mine.append(time.perf_counter() - start)
            if status not in (200, 201):
                errors.append(status)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. HTTP {errors[0]}")
    return elapsed, latencies


def wait_until_up(port: int) -> None:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=4000, help="single-lead requests")
    parser.add_argument("--batches", type=int, default=20, help="batch requests of 1,000 leads")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nurture-bench-"))
    env = prepare_env(tmp / "var")
    os.environ.update({k: v for k, v in env.items() if k in ("NURTURE_VAR_DIR", "DATABASE_URL")})
    manage(env, "migrate", "-v0")
    manage(env, "createcachetable")
    key = manage(env, "shell", "-c", (
        "from nurture.accounts.actions import create_api_key;"
        "print(create_api_key(name='bench', scopes=['leads:write'], created_by=None)[1])"
    )).strip().splitlines()[-1]  # fmt: skip
    database = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "nurture.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.web_workers), "--worker-class", "gthread", "--threads", "4",
         "--access-logfile", "/dev/null", "--error-logfile", str(tmp / "gunicorn.log")],
        env=env, cwd=ROOT,
    )  # fmt: skip
    sampler = RssSampler(server.pid)
    try:
        wait_until_up(port)
        sampler.start()
        print(f"server up on {port} ({database}, {args.web_workers} workers x 4 threads)", file=sys.stderr)
        run_clients(port, key, "/api/v1/leads", leads(200, seed=1), threads=8)  # warm up

        elapsed, latencies = run_clients(port, key, "/api/v1/leads", leads(args.single, seed=2), threads=8)
        single_rate = len(latencies) / elapsed
        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        print(f"single: {single_rate:.0f} leads/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", file=sys.stderr)

        pool = leads(args.batches * 1000, seed=3)
        batches = [{"leads": pool[i : i + 1000]} for i in range(0, len(pool), 1000)]
        elapsed, _ = run_clients(port, key, "/api/v1/leads/batch", batches, threads=2)
        batch_rate = len(pool) / elapsed
        print(f"batch: {batch_rate:.0f} leads/s", file=sys.stderr)

        csv_path = tmp / "leads.csv"
        rows = leads(args.import_rows, seed=4)
        columns = ["full_name", "phone", "email", "province", "need", "source", "campaign", "gender"]
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "phone": "03" + row["phone"][2:]})  # not yet known people
        started = time.perf_counter()
        manage(env, "import", str(csv_path))
        import_rate = args.import_rows / (time.perf_counter() - started)
        print(f"import: {import_rate:.0f} rows/s", file=sys.stderr)
    finally:
        sampler.running = False
        server.terminate()
        server.wait(timeout=20)
    result = {
        "bench": "ingest",
        "database": database,
        "single_leads_per_s": round(single_rate, 1),
        "single_p50_ms": round(p50, 1),
        "single_p99_ms": round(p99, 1),
        "batch_leads_per_s": round(batch_rate, 1),
        "import_rows_per_s": round(import_rate, 1),
        "server_rss_mb": round(sampler.peak, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
