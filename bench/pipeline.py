"""Sales pipeline benchmark on PostgreSQL: the board of one pipeline and a contact page with its timeline.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/pipeline.py

Creates its own database `nurture_bench_sales` (next to the one DATABASE_URL names), migrates it and loads,
set-based (INSERT ... SELECT generate_series): 50,000 contacts, 100,000 deals in two pipelines (nine in ten in
the measured one; 70% open, 20% won, 10% lost), 50,000 open tasks (the cards' next steps) and 1,000,000
activities (calls, messages, meetings, notes, moves) on the contacts' timelines, four in five of them on a deal;
then the other leads' best-time patterns, as the worker computes them on the first contact page.
Then, in-process with Django's test client as a manager (who sees the whole book), it times --requests requests of
- the board: all stages of the pipeline, the first 50 cards of each with their next step, count, total and
  weighted total per stage (`GET /sales/pipelines/<id>/`);
- a contact page with its timeline (`GET /contacts/<id>/`) for random contacts that have deals.
The database is dropped at the end (kept with --keep). Progress and the p50s go to stderr; ONE JSON line last:
board_p99_ms, contact_page_p99_ms (wall-clock in the process serving the request, database time included).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "nurture_bench_sales"
REPS = 30


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _urls() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/pipeline.py needs PostgreSQL: DATABASE_URL=postgres://user@host:port/any_db")
    base = url.rpartition("/")[0]
    return f"{base}/postgres", f"{base}/{BENCH_DB}"


def _admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def load(contacts: int, deals: int, activities: int) -> dict[str, int]:
    """Users and pipelines through the actions; the bulk rows in a few INSERT ... SELECT statements."""
    from django.db import connection, transaction

    from nurture.accounts.models import Team, User
    from nurture.contacts.models import Contact
    from nurture.core import clock
    from nurture.lifecycle import stages
    from nurture.sales import actions
    from nurture.scoring import prediction

    now = clock.now()
    teams = [Team.objects.create(name=f"Chi nhánh {t}") for t in range(3)]
    reps = [User.objects.create_user(f"rep{i:02d}", role=User.Role.SALES_REP, team=teams[i % 3]) for i in range(REPS)]
    User.objects.create_user("manager", password="pw-manager-1", role=User.Role.MANAGER)
    main = actions.install_presets()
    other = actions.save_pipeline(None, name_en="Corporate", name_vi="Doanh nghiệp", stages=[
        actions.StageInput("Pitch", "Giới thiệu", 20, 14), actions.StageInput("Proposal", "Đề xuất", 50, 14),
        actions.StageInput("Contract", "Hợp đồng", 80, 7),
    ])  # fmt: skip
    main_stages = list(main.stages.order_by("position").values_list("pk", flat=True))
    other_stages = list(other.stages.order_by("position").values_list("pk", flat=True))
    rep_ids = [r.pk for r in reps]
    started = time.monotonic()
    with transaction.atomic():
        stage = stages.stage_id("sqo")
        Contact.objects.bulk_create(
            (Contact(full_name=f"Khách hàng {i}", name_folded=f"khach hang {i}", phone=f"+8490{i:07d}",
                     stage_id=stage, owner_id=rep_ids[i % REPS], source="facebook", created_at=now, updated_at=now,
                     last_activity_at=now) for i in range(contacts)),
            batch_size=5000,
        )  # fmt: skip
        first_contact = Contact.objects.order_by("pk").values_list("pk", flat=True).first()
        log(f"{contacts} contacts in {time.monotonic() - started:.1f}s")
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO sales_deal (title, pipeline_id, stage_id, contact_id, company_id, owner_id, amount,
                    currency, products, expected_close, source, medium, campaign, status, lost_reason_id, lost_note,
                    version, stage_entered_at, last_activity_at, created_at, updated_at, closed_at)
                SELECT 'Khóa học ' || g,
                    CASE WHEN g %% 10 = 0 THEN %(other)s ELSE %(main)s END,
                    CASE WHEN g %% 10 = 0 THEN (%(other_stages)s::int[])[1 + g %% 3]
                         ELSE (%(main_stages)s::int[])[1 + g %% 5] END,
                    %(first_contact)s + g %% %(contacts)s, NULL, (%(reps)s::int[])[1 + g %% %(n_reps)s],
                    (g * 7919 %% 500 + 1) * 100000, 'VND', '["IELTS"]'::jsonb, current_date + g %% 120,
                    'facebook', 'cpc', 'tet', CASE WHEN g %% 10 < 7 THEN 'open' WHEN g %% 10 < 9 THEN 'won' ELSE 'lost'
                    END, NULL, '', 1, %(now)s - (g %% 40) * interval '1 day', %(now)s - (g %% 40) * interval '1 day',
                    %(now)s - (g %% 90) * interval '1 day', %(now)s, NULL
                FROM generate_series(1, %(deals)s) g
                """,
                {
                    "other": other.pk, "main": main.pk, "other_stages": other_stages, "main_stages": main_stages,
                    "first_contact": first_contact, "contacts": contacts, "reps": rep_ids, "n_reps": REPS,
                    "now": now, "deals": deals,
                },
            )  # fmt: skip
            cursor.execute("SELECT min(id) FROM sales_deal")
            first_deal = cursor.fetchone()[0]
            log(f"{deals} deals in {time.monotonic() - started:.1f}s")
            cursor.execute(
                """
                INSERT INTO sales_task (kind, title, notes, due_at, remind_at, assignee_id, contact_id, deal_id,
                    done_at, done_by_id, created_by_id, created_at, overdue_notified_at)
                SELECT 'call', 'Gọi lại', '', %(now)s + (g %% 96 - 24) * interval '1 hour', NULL, d.owner_id,
                    d.contact_id, d.id, NULL, NULL, NULL, %(now)s, NULL
                FROM sales_deal d, generate_series(1, 1) g WHERE d.id %% 2 = 0
                """,
                {"now": now},
            )
            cursor.execute(
                """
                INSERT INTO contacts_event (contact_id, deal_id, type, at, source, data, actor_id)
                SELECT d.contact_id, CASE WHEN g %% 5 = 0 THEN NULL ELSE d.id END,
                    (ARRAY['call_logged', 'message_logged', 'meeting_logged', 'note_added',
                           'deal_stage_changed'])[1 + g %% 5],
                    %(now)s - (g %% 500000) * interval '1 minute', '',
                    '{"outcome": "sent", "body": "Đã gửi lịch khai giảng qua Zalo", "channel": "zalo"}'::jsonb,
                    d.owner_id
                FROM generate_series(1, %(activities)s) g JOIN sales_deal d ON d.id = %(first_deal)s + g %% %(deals)s
                """,
                {"now": now, "activities": activities, "first_deal": first_deal, "deals": deals},
            )
            log(f"{activities} activities in {time.monotonic() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    prediction.refresh_priors()  # what the worker does on the first page: the others' best-time patterns
    log(f"loaded and analysed in {time.monotonic() - started:.1f}s")
    return {"pipeline_id": main.pk, "first_contact": first_contact}


def timed(client: Any, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return times


def p99(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=100)[98], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database (to EXPLAIN its queries)")
    args = parser.parse_args()
    admin_url, bench_url = _urls()
    _admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin(admin_url, f"CREATE DATABASE {BENCH_DB}")
    scratch = Path(tempfile.mkdtemp(prefix="nurture-pipeline-"))
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("NURTURE_VAR_DIR", str(scratch / "var"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    try:
        from django.core.management import call_command
        from django.db import connections
        from django.test import Client

        import nurture.wsgi  # noqa: F401 - set up as the web server is (the collector's settings included)

        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
        log(f"database {BENCH_DB} migrated")
        loaded = load(args.contacts, args.deals, args.activities)
        client = Client()
        assert client.login(username="manager", password="pw-manager-1")
        board_url = f"/sales/pipelines/{loaded['pipeline_id']}/"
        timed(client, [board_url] * 5)  # warm the caches (templates, stage lookups)
        board = timed(client, [board_url] * args.requests)
        log(f"board: p50 {statistics.median(board):.1f} ms, p99 {p99(board)} ms")
        rng = random.Random(2026)
        contact_urls = [f"/contacts/{loaded['first_contact'] + rng.randrange(args.contacts)}/"
                        for _ in range(args.requests + 5)]  # fmt: skip
        timed(client, contact_urls[:5])
        contact = timed(client, contact_urls[5:])
        log(f"contact page: p50 {statistics.median(contact):.1f} ms, p99 {p99(contact)} ms")
        connections.close_all()
        log(f"{args.deals} deals, {args.activities} activities, {args.requests} requests each")
        print(json.dumps({"board_p99_ms": p99(board), "contact_page_p99_ms": p99(contact)}))
    finally:
        if not args.keep:
            _admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            log(f"database {BENCH_DB} dropped")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
