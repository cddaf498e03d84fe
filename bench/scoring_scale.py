"""Scoring at scale on PostgreSQL, for `bench/scoring.py --scale N`.

Loads N contacts with bench/scale.py's loader (its own database, dropped at the end), adds three
behaviour events per contact (page views, email opens, webinars over two years), installs the starter
rules and scores everyone once. Then it measures:

- rescore_s: a rule changes (the price-page rule's points), and `scoring.actions.rescore` re-applies it
  to every contact, set-based, and recomputes all N scores from the ledger;
- segment_count_ms: counting a 3-condition dynamic segment ("attended a webinar in the last 30 days, in
  Hà Nội or Hồ Chí Minh, not a customer") as the segments page does, one query (median of 5);
- segment_refresh_s: its first membership refresh (a row and a segment_entered event per member).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import scale

SEGMENT = {
    "all": [
        {"event": "webinar_attended", "within_days": 30},
        {"field": "province", "op": "in", "value": ["Hà Nội", "Hồ Chí Minh"]},
        {"not": {"field": "stage", "op": "eq", "value": "customer"}},
    ]
}


def add_events() -> int:
    """Three behaviour events per contact, written by one INSERT ... SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_event (contact_id, type, at, source, data)"
            " SELECT c.id, (ARRAY['page_viewed', 'email_opened', 'webinar_attended'])[1 + (c.id + g) % 3],"
            " LEAST(now(), c.created_at + g * interval '9 days'), 'bench',"
            " jsonb_build_object('url', CASE WHEN (c.id + g) % 4 = 0 THEN '/bang-gia' ELSE '/blog' END)"
            " FROM contacts_contact c, generate_series(1, 3) g"
        )
        count = cursor.rowcount
        cursor.execute("ANALYZE contacts_event")
    return count


def run_scale(contacts: int) -> dict[str, object]:
    admin_url, bench_url = scale._database_url()
    scale._admin(admin_url, f"DROP DATABASE IF EXISTS {scale.BENCH_DB} WITH (FORCE)")
    scale._admin(admin_url, f"CREATE DATABASE {scale.BENCH_DB}")
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("NURTURE_VAR_DIR", tempfile.mkdtemp(prefix="nurture-scoring-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        from nurture.core import clock
        from nurture.scoring import actions
        from nurture.scoring.models import PointsRule, RescoreRun
        from nurture.segments import actions as segments

        call_command("migrate", verbosity=0)
        loaded = scale.load(contacts, bench_url)
        started = time.perf_counter()
        events = add_events()
        scale.log(f"{events} behaviour events added in {time.perf_counter() - started:.1f} s")
        rules = actions.install_starter_rules()
        started = time.perf_counter()
        first = actions.rescore(RescoreRun.objects.create(created_at=clock.now()), [r.pk for r in rules])
        rescore_all = time.perf_counter() - started
        scale.log(f"all {len(rules)} starter rules applied: {first.entries} entries in {rescore_all:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE scoring_scoreentry")
        price = PointsRule.objects.get(name="Price page viewed")
        price.points = 12
        price.save()
        started = time.perf_counter()
        run = actions.rescore(RescoreRun.objects.create(created_at=clock.now()), [price.pk])
        rescore_s = time.perf_counter() - started
        scale.log(f"one rule changed: {run.entries} entries, {run.processed} contacts re-scored in {rescore_s:.1f} s")
        segment = segments.save_segment(None, {"name": "Webinar, big cities, not customer", "conditions": SEGMENT},
                                        actor=None)  # fmt: skip
        timings = []
        members = 0
        for _ in range(5):
            started = time.perf_counter()
            members = segments.count(segment, segments.live_contacts())
            timings.append(time.perf_counter() - started)
        segment_ms = statistics.median(timings) * 1000
        scale.log(f"segment of {members} contacts counted in {segment_ms:.0f} ms (median of 5)")
        started = time.perf_counter()
        segments.refresh(segment)
        refresh_s = time.perf_counter() - started
        scale.log(f"segment membership refreshed in {refresh_s:.1f} s")
        connections.close_all()
        return {
            "bench": "scoring_scale", "contacts": contacts, "rescore_s": round(rescore_s, 1),
            "segment_count_ms": round(segment_ms, 1), "segment_refresh_s": round(refresh_s, 1),
            "rescore_all_rules_s": round(rescore_all, 1),
            "ledger_entries": first.entries, "segment_members": members, "events": events,
            "load_s": loaded["load_s"],
        }  # fmt: skip
    finally:
        scale._admin(admin_url, f"DROP DATABASE IF EXISTS {scale.BENCH_DB} WITH (FORCE)")
        scale.log(f"database {scale.BENCH_DB} dropped")


if __name__ == "__main__":  # for profiling on its own: python bench/scoring_scale.py N
    import json
    import sys

    print(json.dumps(run_scale(int(sys.argv[1]))))
