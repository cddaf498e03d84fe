"""Journey engine benchmark: steps per second, timer lag, email send rate and trigger latency.

Run: .venv/bin/python bench/journeys.py   (SQLite; set DATABASE_URL=postgres://... for PostgreSQL)

1. steps: --contacts (100,000) contacts with an email, a phone and consent for both are enrolled in a live
   5-step journey: welcome email → wait 1 day → branch "opened the email in the last 7 days" → SMS → call task
   for the owner (the branch's "no" goes straight to the task). --workers engine processes (2 on PostgreSQL,
   1 on SQLite) run `engine.run_due` until every enrolment waits; a third of the contacts then open the email;
   the clock is moved forward (every wait falls due now) and the workers run the rest. steps_per_s is the number
   of StepRun rows over the time the workers took.
2. timer lag: with those enrolments' messages pending, --lag-timers enrolments of another journey are made to
   fall due at a steady 50 a second; timer_lag_p99_s is the 99th percentile of (step run - due).
3. email: --emails welcome emails (from step 1) are delivered by --email-workers (2) `nurture worker` processes to
   an SMTP server on loopback (aiosmtpd), each over its one reused connection, a job carrying up to 50 emails;
   email_per_s is the count over the time taken (the workers' start included).
4. trigger: a journey starts when a lead is captured (the lead API's event; a web form's works the same way) with
   an email; --leads leads are posted to the lead API of a running server one at a time with a worker running;
   trigger_p99_ms is the 99th percentile of the time from sending the request to the message row existing.

Prints progress, then ONE JSON line: steps_per_s, timer_lag_p99_s, email_per_s, trigger_p99_ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest import PYTHON, ROOT, free_port, manage, post, prepare_env, wait_until_up
from routing import percentile

ENGINE = """
import django, time
django.setup()
from nurture.journeys.engine import run_due
while True:
    if not run_due():
        time.sleep(0.05)
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup(n: int) -> dict[str, Any]:
    """Contacts with consent, two templates and three live journeys; returns their ids."""
    from nurture.accounts.models import User
    from nurture.contacts.models import Consent, Contact
    from nurture.core import clock
    from nurture.journeys import actions as journeys
    from nurture.lifecycle import stages
    from nurture.messaging.actions import save_template

    now = clock.now()
    owner = User.objects.create_user(username="rep", email="rep@example.vn", role=User.Role.SALES_REP)
    stage_id = stages.entry_stage_id()
    Contact.objects.bulk_create(
        (Contact(full_name=f"Nguyễn Văn Khách {i}", given_name="Khách", email=f"khach{i}@example.vn",
                 phone=f"+8491{i:07d}", owner=owner, stage_id=stage_id, created_at=now, updated_at=now,
                 last_activity_at=now)
         for i in range(n)),
        batch_size=5000,
    )  # fmt: skip
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    Consent.objects.bulk_create(
        (Consent(contact_id=c, channel=channel, granted=True, source="bench", at=now)
         for c in ids for channel in ("email", "sms")),
        batch_size=10000,
    )  # fmt: skip
    welcome = save_template(
        None,
        {
            "name": "Chào mừng",
            "channel": "email",
            "language": "vi",
            "subject": "Chào {{ greeting }}",
            "body": "Chào {{ greeting }}, cảm ơn bạn.",
        },
    )
    sms = save_template(None, {"name": "Nhắc", "channel": "sms", "language": "vi",
                               "body": "Chào {{ greeting }}, ưu đãi dành cho bạn."})  # fmt: skip
    graph = {
        "order": ["welcome", "wait", "opened", "sms", "call"],
        "steps": {
            "welcome": {"type": "send_email", "template": welcome.pk},
            "wait": {"type": "wait", "days": 1},
            "opened": {"type": "branch", "condition": {"event": "email_opened", "within_days": 7},
                       "yes": "sms", "no": "call"},
            "sms": {"type": "send_sms", "template": sms.pk},
            "call": {"type": "call_task", "script": "Hỏi anh/chị đã đọc email chưa."},
        },
    }  # fmt: skip
    # Quiet hours off: the run must not wait for 08:00 when it happens at night (the SMS is still held by messaging).
    five = journeys.save_journey(None, {"name": "5 bước", "trigger": {"type": "manual"}, "graph": graph,
                                        "quiet_hours": False}, actor=None)  # fmt: skip
    lag = journeys.save_journey(
        None,
        {
            "name": "Hẹn giờ",
            "trigger": {"type": "manual"},
            "graph": {
                "order": ["wait", "call"],
                "steps": {"wait": {"type": "wait", "days": 1}, "call": {"type": "call_task", "script": "Gọi lại."}},
            },
        },
        actor=None,
    )
    form = journeys.save_journey(
        None,
        {
            "name": "Form",
            "trigger": {"type": "event", "event": "api_captured"},
            "graph": {"order": ["welcome"], "steps": {"welcome": {"type": "send_email", "template": welcome.pk}}},
        },
        actor=None,
    )
    for journey in (five, lag, form):
        journeys.publish(journey, actor=None)
        journeys.set_status(journey, "live", actor=None)
    return {"ids": ids, "five": five.pk, "lag": lag.pk, "form": form.pk}


def run_engines(env: dict[str, str], workers: int, until: Callable[[], bool]) -> float:
    """Start engine processes, return the seconds until `until()` holds, then stop them."""
    from django.db import connection

    connection.close()
    procs = [subprocess.Popen([PYTHON, "-c", ENGINE], env=env, cwd=ROOT) for _ in range(workers)]
    started = time.perf_counter()
    try:
        while not until():
            if any(p.poll() is not None for p in procs):
                raise SystemExit("an engine process died")
            time.sleep(0.2)
        return time.perf_counter() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=0, help="engine processes (2 on PostgreSQL, 1 on SQLite)")
    parser.add_argument("--email-workers", type=int, default=2, help="worker processes delivering the emails")
    parser.add_argument("--lag-timers", type=int, default=3000)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=200)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nurture-journeys-"))
    env = prepare_env(tmp / "var")
    os.environ.update({k: v for k, v in env.items() if k in ("NURTURE_VAR_DIR", "DATABASE_URL")})
    database = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    workers = args.workers or (2 if database == "postgresql" else 1)
    manage(env, "migrate", "-v0")
    manage(env, "createcachetable")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from nurture.contacts.models import Event
    from nurture.core import clock
    from nurture.journeys import actions as journeys
    from nurture.journeys.models import Enrolment, Journey, StepRun

    started = time.perf_counter()
    ids = setup(args.contacts)
    log(f"{args.contacts} contacts with consent loaded in {time.perf_counter() - started:.1f} s ({database})")
    started = time.perf_counter()
    journeys.enrol(Journey.objects.get(pk=ids["five"]), ids["ids"], source="bench")
    log(f"enrolled in {time.perf_counter() - started:.1f} s; {workers} engine process(es)")

    # 1. Steps: up to the wait, then (the clock moved a day on) through the branch to the end.
    mine = Enrolment.objects.filter(journey_id=ids["five"])
    runs = StepRun.objects.filter(journey_id=ids["five"])
    first = run_engines(env, workers, lambda: not mine.filter(status="active").exists())
    steps_a = runs.count()
    log(f"{steps_a} steps until every enrolment waits: {first:.1f} s ({steps_a / first:.0f}/s)")
    now = clock.now()
    opened = random.Random(7).sample(ids["ids"], len(ids["ids"]) // 3)
    Event.objects.bulk_create((Event(contact_id=c, type="email_opened", at=now, source="bench") for c in opened),
                              batch_size=10000)  # fmt: skip
    mine.filter(status="waiting").update(next_due_at=now)
    second = run_engines(env, workers, lambda: not mine.filter(status__in=["active", "waiting"]).exists())
    steps = runs.count()
    steps_per_s = steps / (first + second)
    log(f"{steps - steps_a} more steps in {second:.1f} s; {steps} in all: {steps_per_s:.0f} steps/s; "
        f"{mine.filter(status='completed').count()} completed")  # fmt: skip

    # 2. Timer lag: waits falling due at a steady rate.
    journeys.enrol(Journey.objects.get(pk=ids["lag"]), ids["ids"][: args.lag_timers], source="bench")
    lagging = Enrolment.objects.filter(journey_id=ids["lag"], status__in=["active", "waiting"])
    run_engines(env, workers, lambda: not lagging.filter(status="active").exists())
    due_from = clock.now() + timedelta(seconds=3)
    waiting = list(lagging.order_by("pk"))
    for i, enrolment in enumerate(waiting):
        enrolment.next_due_at = due_from + timedelta(seconds=i / 50)
    Enrolment.objects.bulk_update(waiting, ["next_due_at"], batch_size=1000)
    due = {e.pk: e.next_due_at for e in waiting}
    log(f"{len(waiting)} timers falling due at 50/s")
    run_engines(env, workers, lambda: not lagging.exists())
    ran = StepRun.objects.filter(enrolment_id__in=due, step="call").values_list("enrolment_id", "at")
    lags = [(at - due[e]).total_seconds() for e, at in ran]
    timer_lag = percentile(lags, 0.99)
    log(f"timer lag p50 {percentile(lags, 0.5):.2f} s, p99 {timer_lag:.2f} s")

    email = email_rate(env, args.emails, args.email_workers)
    trigger_p99 = trigger_latency(env, tmp, args.leads, ids["form"])
    print(json.dumps({
        "bench": "journeys", "database": database, "contacts": args.contacts, "workers": workers,
        "steps": steps, "steps_per_s": round(steps_per_s, 1), "timer_lag_p99_s": round(timer_lag, 2),
        "email_workers": args.email_workers, "email_per_s": round(email, 1), "trigger_p99_ms": round(trigger_p99, 1),
    }))  # fmt: skip


def email_rate(env: dict[str, str], count: int, workers: int) -> float:
    """3. Deliver `count` of step 1's welcome emails to a local SMTP server through `workers` `nurture worker`s."""
    from aiosmtpd.controller import Controller
    from django.db import connection

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command

    from nurture.core.models import Job

    class Sink:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Sink.received += 1
            return "250 OK"

    # The delivery jobs carrying the first `count` queued emails (a job carries a batch of them); others are put by.
    keep: list[int] = []
    total = 0
    sends = Job.objects.filter(kind="messaging.send", status="queued").order_by("pk").values_list("pk", "payload")
    for pk, payload in sends.iterator():
        if total >= count:
            break
        keep.append(pk)
        total += len(payload["message_ids"])
    Job.objects.filter(status="queued").exclude(pk__in=keep).update(status="done")
    connection.close()
    port = free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    worker_env = dict(env, NURTURE_SMTP_HOST="127.0.0.1", NURTURE_SMTP_PORT=str(port), NURTURE_SMTP_TLS="0",
                      NURTURE_WORKER_POLL_SECONDS="0.2")  # fmt: skip
    started = time.perf_counter()
    procs = [subprocess.Popen([PYTHON, "-m", "nurture.cli", "worker"], env=worker_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL) for _ in range(workers)]  # fmt: skip
    try:
        while Sink.received < total and all(p.poll() is None for p in procs) and time.perf_counter() - started < 600:
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        smtp.stop()
    rate = Sink.received / elapsed
    log(f"{Sink.received} of {total} emails to SMTP in {elapsed:.1f} s (worker start included): {rate:.0f}/s")
    return rate


def trigger_latency(env: dict[str, str], tmp: Path, leads: int, journey_id: int) -> float:
    """4. From posting a lead to the journey's first message stored, with a worker polling every 0.1 s."""
    from django.db import connection

    from nurture.accounts.actions import create_api_key
    from nurture.messaging.models import Message

    key = create_api_key(name="bench", scopes=["leads:write"], created_by=None)[1]
    connection.close()
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "nurture.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "2", "--access-logfile", "/dev/null",
         "--error-logfile", str(tmp / "gunicorn.log")],
        env=env, cwd=ROOT,
    )  # fmt: skip
    worker_env = dict(env, NURTURE_WORKER_POLL_SECONDS="0.1")
    worker = subprocess.Popen([PYTHON, "-m", "nurture.cli", "worker"], env=worker_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL)  # fmt: skip
    latencies: list[float] = []
    try:
        wait_until_up(port)
        time.sleep(3)  # the worker's start
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(leads):
            body = {"full_name": f"Trần Thị Mới {i}", "email": f"moi{i}@example.vn", "phone": f"+8498{i:07d}",
                    "consents": {"email": True}}  # fmt: skip
            sent = time.perf_counter()
            status = post(conn, "/api/v1/leads", body, key)
            if status not in (200, 201):
                raise SystemExit(f"lead API answered {status}")
            message = Message.objects.filter(origin=f"journey:{journey_id}", contact__email=body["email"])
            while not message.exists():
                if time.perf_counter() - sent > 30:
                    raise SystemExit("no message within 30 s of the form")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.1)
    finally:
        worker.terminate()
        server.terminate()
        worker.wait(timeout=60)
        server.wait(timeout=30)
    p99 = percentile(latencies, 0.99) * 1000
    log(f"trigger to message: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {p99:.0f} ms")
    return p99


if __name__ == "__main__":
    main()
