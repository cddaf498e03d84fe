"""Speed-to-lead benchmark: lead API → assignment committed and notice job stored, then SLA timer lag.

Run: .venv/bin/python bench/routing.py   (SQLite; set DATABASE_URL=postgres://... for PostgreSQL)

1. A fresh server (gunicorn, as in bench/ingest.py) with 30 reps in 3 teams, 20 assignment rules (19 on province
   and source, one catch-all, the three strategies) and an SLA policy (first response in 2 minutes, a reminder
   1 minute before, reclaim after 3); gunicorn runs 2 processes of 16 threads. Leads are sent at a steady 100 per
   second for 60 seconds over 32 connections (an open load: enough connections that a slow answer does not hold
   back the next lead); each request returns once its lead is assigned and the notice job stored (same
   transaction), and its latency runs from the moment the lead was due to be sent, so a late send counts.
   Every lead is then checked to have its owner, assignment and notice job. On PostgreSQL a probe times a bare
   durable commit every 50 ms meanwhile (commit_p99_ms, commit_max_ms, and commit_stall_s: the time its commits
   spent past 100 ms, each second of it ~100 leads pushed past 150 ms by the disk alone): the disk's share of the
   leads' latency.
2. 100,000 pending SLA timers: the load above left ~6,000 real ones (a lead's reminder, which queues its breach
   as it runs); synthetic ones due in the coming days make up the rest. Of the real reminders, --due-per-s a second
   are moved to fall due while a worker runs (--worker-seconds), the others (and the steps the measured ones queue)
   to tomorrow; timer_lag_p99_s is the 99th percentile of (finished - due) over them (one not done by the end
   counts with the lag it had reached).

Prints progress, then ONE JSON line: p50_ms, p99_ms, leads_per_s, timer_lag_p99_s (and the probe's keys).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest import PYTHON, ROOT, free_port, leads, manage, post, prepare_env, wait_until_up

PROVINCES = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế", "Nghệ An", "Bình Dương",
             "Đồng Nai", "Khánh Hòa"]  # fmt: skip
SETUP = """
from nurture.accounts.models import Team, User
from nurture.availability.models import BusinessHours
from nurture.routing import actions
from nurture.accounts.actions import create_api_key
BusinessHours.objects.update_or_create(pk=1, defaults={"weekly": {str(d): [["00:00", "23:59"]] for d in range(7)},
                                                       "use_official_holidays": False})
teams = [Team.objects.create(name=f"Team {t}") for t in range(3)]
reps = [User.objects.create_user(username=f"rep{i:02d}", email=f"rep{i:02d}@example.vn", role="sales_rep",
                                 team=teams[i % 3]) for i in range(30)]
strategies = ["round_robin", "weighted", "fewest_open"]
for i in range(19):
    field, value = ("province", PROVINCES[i % 10]) if i < 10 else ("source", ["facebook", "google", "zalo", "website",
        "tiktok", "hotline", "referral", "event", "email"][i - 10])
    members = [(reps[(i + k) % 30], 1 + k % 3) for k in range(5)]
    actions.save_rule(None, {"name": f"Rule {i}", "priority": 10 + i, "strategy": strategies[i % 3],
                             "conditions": {"field": field, "op": "eq", "value": value}}, members)
actions.save_rule(None, {"name": "Everyone else", "priority": 1000, "team": teams[0], "strategy": "round_robin"}, [])
actions.save_policy(None, {"name": "2 minutes", "first_response_minutes": 2, "remind_before_minutes": 1,
                           "reclaim_after_minutes": 3, "escalate": True, "business_hours": False})
print(create_api_key(name="bench", scopes=["leads:write"], created_by=None)[1])
"""


def paced_clients(port: int, key: str, payloads: list[Any], rate: float, threads: int) -> tuple[float, list[float]]:
    """Send `payloads` at a steady `rate` per second (open loop) from `threads` connections."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(offset, len(payloads), threads):
            due = start + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            status = post(conn, "/api/v1/leads", payloads[i], key)
            mine.append(time.perf_counter() - due)  # from when it was due: a late send counts as waiting
            if status not in (200, 201):
                errors.append(status)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. HTTP {errors[0]}")
    return elapsed, latencies


class CommitProbe(threading.Thread):
    """Times a trivial durable commit on the bench's PostgreSQL every 50 ms while the leads are sent: the floor
    under every lead's latency, set by how fast the disk flushes the write-ahead log. On a shared virtual disk a
    flush now and then takes hundreds of milliseconds, and every lead committing meanwhile waits for it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.times: list[float] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.05):
                start = time.perf_counter()
                conn.execute("SELECT pg_logical_emit_message(true, 'nurture-bench', '')")  # WAL written, so flushed
                self.times.append(time.perf_counter() - start)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * q) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0, help="leads per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--worker-seconds", type=float, default=70.0)
    parser.add_argument("--due-per-s", type=float, default=20.0, help="timers falling due per second while measured")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16, help="per web process")
    parser.add_argument("--clients", type=int, default=32, help="connections sending the leads")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nurture-routing-"))
    env = prepare_env(tmp / "var")
    os.environ.update({k: v for k, v in env.items() if k in ("NURTURE_VAR_DIR", "DATABASE_URL")})
    manage(env, "migrate", "-v0")
    manage(env, "createcachetable")
    key = manage(env, "shell", "-c", f"PROVINCES = {PROVINCES!r}\n{SETUP}").strip().splitlines()[-1]
    database = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "nurture.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.web_workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--access-logfile", "/dev/null", "--error-logfile", str(tmp / "gunicorn.log")],
        env=env, cwd=ROOT,
    )  # fmt: skip
    total = int(args.rate * args.seconds)
    payloads = leads(total, seed=5)
    for i, lead in enumerate(payloads):
        lead["province"] = PROVINCES[i % len(PROVINCES)] if i % 4 else "Lào Cai"  # a quarter fall to the catch-all
    probe = CommitProbe(env["DATABASE_URL"]) if database == "postgresql" else None
    try:
        wait_until_up(port)
        print(f"server up on {port} ({database}); {total} leads at {args.rate:.0f}/s", file=sys.stderr)
        if probe:
            probe.start()
        elapsed, latencies = paced_clients(port, key, payloads, args.rate, threads=args.clients)
    finally:
        if probe:
            probe.stop.set()
            probe.join()
        server.terminate()
        server.wait(timeout=20)
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
    rate = len(latencies) / elapsed
    print(f"{rate:.1f} leads/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", file=sys.stderr)
    commits = {}
    if probe and probe.times:
        # A lead that reaches its commit during a flush of S seconds waits out the rest of it: with the ~50 ms of
        # its own work, the leads sent in the flush's first S - 0.1 s are pushed past 150 ms by the disk alone.
        stall = sum(max(0.0, t - 0.1) for t in probe.times)
        commits = {"commit_p99_ms": round(percentile(probe.times, 0.99) * 1000, 1),
                   "commit_max_ms": round(max(probe.times) * 1000, 1), "commit_stall_s": round(stall, 2)}  # fmt: skip
        print(f"a bare commit meanwhile (every 50 ms): p99 {commits['commit_p99_ms']} ms, max "
              f"{commits['commit_max_ms']} ms; {stall:.2f} s of flushes past 100 ms: ~{stall * args.rate:.0f} leads "
              f"pushed past 150 ms by the disk ({total // 100} are the slowest 1%)", file=sys.stderr)  # fmt: skip

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from nurture.contacts.models import Contact
    from nurture.core import clock
    from nurture.core.models import Job
    from nurture.routing.models import Assignment

    contacts = Contact.objects.count()
    owned = Contact.objects.filter(owner__isnull=False).count()
    assigned = Assignment.objects.filter(user__isnull=False).count()
    notices = Job.objects.filter(kind="notifications.email").count()
    print(f"{contacts} contacts, {owned} owned, {assigned} assignments, {notices} notice jobs", file=sys.stderr)
    if not contacts == owned == assigned == notices == total:
        raise SystemExit("some leads were not assigned and announced")

    # Phase 1's notice deliveries are set aside: the worker's time goes to the timers measured here.
    now = clock.now()
    Job.objects.filter(status=Job.Status.QUEUED).exclude(kind="routing.sla").update(status=Job.Status.DONE,
                                                                                     finished_at=now)  # fmt: skip
    queued = Job.objects.filter(kind="routing.sla", status=Job.Status.QUEUED)
    queued.update(due_at=now + timedelta(days=1))
    synthetic = max(0, args.timers - queued.count())
    Job.objects.bulk_create(
        (Job(kind="routing.sla", payload={"assignment_id": 0, "step": "breach"}, status=Job.Status.QUEUED,
             due_at=now + timedelta(days=1, seconds=i), created_at=now) for i in range(synthetic)),
        batch_size=5000,
    )  # fmt: skip
    worker_env = dict(env, NURTURE_WORKER_POLL_SECONDS="1")
    worker = subprocess.Popen([PYTHON, "-m", "nurture.cli", "worker"], env=worker_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "worker.log", "w"))  # fmt: skip
    # The worker is up once it has queued its daily jobs and run those already due (before 02:00 local, none is);
    # only then do the measured timers fall due.
    decay = Job.objects.filter(kind="scoring.decay")
    while not decay.exists() or decay.filter(due_at__lte=clock.now()).exclude(status=Job.Status.DONE).exists():
        time.sleep(0.5)
    window = args.worker_seconds - 10
    measured = list(queued.filter(payload__step="remind").order_by("pk")[: int(args.due_per_s * window)])
    first = clock.now() + timedelta(seconds=2)
    later = (now + timedelta(days=1)).isoformat()
    for i, job in enumerate(measured):
        job.due_at = first + timedelta(seconds=window * i / len(measured))
        # The steps a reminder queues as it runs (breach, reclaim) move to tomorrow too, as they would fall due
        # minutes after it, not at once.
        job.payload["then"] = [[step, later] for step, _moment in job.payload["then"]]
    Job.objects.bulk_update(measured, ["due_at", "payload"], batch_size=1000)
    pending = queued.count()
    print(f"{pending} pending SLA timers, {len(measured)} falling due over {window:.0f} s "
          f"({args.due_per_s:.0f}/s); worker runs {args.worker_seconds:.0f} s", file=sys.stderr)  # fmt: skip
    time.sleep(args.worker_seconds)
    worker.terminate()
    worker.wait(timeout=60)
    ended = clock.now()
    rows = Job.objects.filter(pk__in=[j.pk for j in measured]).values_list("due_at", "finished_at", "status")
    # A timer still not done at the end counts with the lag it had reached by then.
    lags = [
        ((finished if status == Job.Status.DONE else ended) - due).total_seconds() for due, finished, status in rows
    ]
    late = sum(1 for _due, _finished, status in rows if status != Job.Status.DONE)
    if not lags:
        raise SystemExit("no timer to measure")
    lag_p99 = percentile(lags, 0.99)
    print(f"{len(lags)} timers measured, lag p50 {statistics.median(lags):.2f} s, p99 {lag_p99:.2f} s, "
          f"{late} not done by the end", file=sys.stderr)  # fmt: skip
    print(json.dumps({
        "bench": "routing", "database": database, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
        "leads_per_s": round(rate, 1), "timer_lag_p99_s": round(lag_p99, 2), "timers_pending": pending,
        "timers_measured": len(lags), **commits,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
