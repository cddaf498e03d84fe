"""De-duplication at scale on PostgreSQL, for `bench/dedup.py --scale N`.

Creates its own database `nurture_bench_scale` (next to the one DATABASE_URL names), migrates it and
bulk-loads N contacts with COPY: realistic Vietnamese people (bench/vn_dupes.py's names, streets,
provinces), 5% of them entered a second time with another phone, sharing the name, birth date and
address (the engine should merge them) or the name and the part of the email before @ (a possible
duplicate). Each contact gets its identities, blocking keys, one event and one stage change, as
capture would have written them. Then it measures:

- online matching: 1,000 incoming leads (half new people, half fuzzy duplicates of loaded contacts
  with a new phone) resolved one at a time by `candidates` + `decide`: match_p50_ms, match_p99_ms;
- the batch clean-up over the whole database (`nurture.identity.batch.run`, merges applied): batch_s,
  batch_peak_mb (the process's resident memory, sampled every 0.2 s), pairs, merged, proposed.

The database is dropped at the end. Progress goes to stderr.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import vn_dupes  # noqa: E402

BENCH_DB = "nurture_bench_scale"
SEED = 20240601
DUPLICATE_SHARE = 0.05
ONLINE_LEADS = 1000
CHUNK = 20_000  # contacts generated between two writes to the COPY streams
# Tables loaded with COPY; their secondary indexes are dropped for the load and built afterwards.
LOADED = ("contacts_contact", "contacts_identity", "identity_matchkey", "contacts_event", "lifecycle_stagechange")
TYPE_BIRTH, TYPE_EMAIL = 1, 2  # how a duplicate resembles its original: name + birth date + address, or email
SOURCES = ["facebook", "website", "zalo", "hotline", "import", "tiktok"]
CAMPAIGNS = ["", "", "tet-2024", "summer-sale", "webinar-04", "referral"]
NEEDS = ["", "", "", "Tư vấn gói cơ bản", "Xin báo giá", "Gọi lại buổi tối", "Quan tâm khóa học"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- generated people, a pure function of the person's number so loader processes agree -------------


PHONE_SPACE = 300_000_000  # 30 prefixes x 10^7 numbers


def phone_number(k: int) -> str:
    """The k-th of distinct, random-looking Vietnamese mobiles in E.164 (k < PHONE_SPACE).

    A small Feistel permutation (cycle-walked into range): the numbers never repeat, and their last six
    digits (a blocking key) collide as often as random numbers' do.
    """
    x = k
    while True:
        left, right = x >> 15, x & 0x7FFF
        for r in range(4):
            left, right = right, left ^ ((right * 0x9E3779B1 + r * 0x85EBCA6B) >> 11 & 0x7FFF)
        x = left << 15 | right
        if x < PHONE_SPACE:
            return f"+84{vn_dupes.PREFIXES[x // 10_000_000][1:]}{x % 10_000_000:07d}"


def person(p: int, force: int = 0) -> dict[str, Any]:
    """Person p as first entered; `force` makes sure the fields its later duplicate shares are there."""
    rng = random.Random(SEED * 1_000_003 + p)
    female = rng.random() < 0.5
    family = rng.choices(list(vn_dupes.FAMILY), weights=list(vn_dupes.FAMILY.values()))[0]
    middle = rng.choice(vn_dupes.MIDDLE_FEMALE if female else vn_dupes.MIDDLE_MALE)
    given = rng.choice(vn_dupes.GIVEN_FEMALE if female else vn_dupes.GIVEN_MALE)
    if rng.random() < 0.03:  # the very common names
        family, middle, given = ("Nguyễn", "Thị", "Hương") if female else ("Nguyễn", "Văn", "Hùng")
    province = rng.choices(list(vn_dupes.PROVINCES), weights=vn_dupes.PROVINCE_WEIGHTS)[0]
    has_phone = rng.random() < 0.95
    has_email = rng.random() < 0.6 or not has_phone or force == TYPE_EMAIL
    slug = vn_dupes.strip_accents(given + family).lower().replace(" ", "")
    if rng.random() < 0.3:
        slug = vn_dupes.strip_accents(f"{given}.{family}").lower().replace(" ", "")
    return {
        "p": p,
        "female": female,
        "family": family,
        "middle": middle,
        "given": given,
        "full_name": f"{family} {middle} {given}",
        "phone": phone_number(p) if has_phone else "",
        # The person number makes the address unique; the part before @ is what a duplicate shares.
        "email": f"{slug}{p}@{rng.choice(vn_dupes.DOMAINS)}" if has_email else "",
        "province": rng.choice(vn_dupes.PROVINCES[province][:2]) if rng.random() < 0.6 else "",
        "address": (
            f"{rng.randint(1, 399)} {rng.choice(vn_dupes.STREETS)}, Phường {rng.randint(1, 15)}"
            if rng.random() < 0.3 or force == TYPE_BIRTH
            else ""
        ),
        "birth_date": (
            f"{rng.randint(1960, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if rng.random() < 0.2 or force == TYPE_BIRTH
            else ""
        ),
        "company": rng.random() < 0.2,
        "gender": ("female" if female else "male") if rng.random() < 0.7 else "",
    }


def duplicate(original: dict[str, Any], kind: int, new_phone: str, gen: vn_dupes.Generator) -> dict[str, Any]:
    """The same person entered again: another phone, the name typed differently."""
    rng = gen.rng
    dup = dict(original, full_name=gen.name_text(original), phone=new_phone, company=False)
    if kind == TYPE_BIRTH:
        dup["email"] = ""
        if rng.random() < 0.25:
            dup["address"] = dup["address"].replace("Phường ", "P.")
    else:
        local, _, domain = original["email"].partition("@")
        dup["email"] = f"{local}@{rng.choice([d for d in ('gmail.com', 'yahoo.com', 'outlook.com') if d != domain])}"
        dup["address"] = dup["birth_date"] = ""
    if rng.random() < 0.5:
        dup["province"] = ""
    return dup


def plan(n: int) -> tuple[array, bytearray]:
    """Which person each contact is (-1 - p for a duplicate of p, entered after p) and the duplicate kinds."""
    rng = random.Random(SEED)
    dups = int(n * DUPLICATE_SHARE)
    originals = n - dups
    kinds = bytearray(originals)
    later = []
    for i, p in enumerate(rng.sample(range(originals), dups)):
        kinds[p] = TYPE_BIRTH if i % 2 == 0 else TYPE_EMAIL
        later.append((p + 1 + rng.random() * (originals - p - 1), p))
    later.sort()
    order = array("q")
    it = iter(later)
    nxt = next(it, None)
    for p in range(originals):
        order.append(p)
        while nxt is not None and nxt[0] < p + 1:
            order.append(-1 - nxt[1])
            nxt = next(it, None)
    while nxt is not None:
        order.append(-1 - nxt[1])
        nxt = next(it, None)
    return order, kinds


# --- the loader (runs in child processes: no Django there, only psycopg and the matching engine) -----


def _tsv(value: object) -> str:
    if value is None or value == "":
        return "\\N" if value is None else ""
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


CONTACT_COLUMNS = (
    "id", "full_name", "family_name", "middle_name", "given_name", "name_folded", "gender", "birth_date", "email",
    "phone", "job_title", "industry", "province", "address", "need", "preferred_contact_time", "score", "fit_score",
    "engagement_score", "scored_at", "band", "source",
    "medium", "campaign", "referrer", "landing_url", "custom_fields", "created_at", "updated_at",
    "last_activity_at", "company_id", "owner_id", "stage_id", "merged_into_id",
)  # fmt: skip


def load_part(url: str, low: int, high: int, order: array, kinds: bytes, meta: dict[str, Any]) -> int:
    """COPY contacts low..high-1 (0-based) and their rows; return the number of blocking keys."""
    import psycopg

    from nurture.core.normalise import clean_name, fold, split_name
    from nurture.identity.matching import Record, blocking_keys

    gen = vn_dupes.Generator(SEED)
    companies: list[tuple[int, str]] = meta["companies"]
    originals, n, stage_id = meta["originals"], meta["contacts"], meta["stage_id"]
    start = datetime.fromisoformat(meta["start"])
    span = timedelta(days=730) / max(n, 1)
    conns = [psycopg.connect(url) for _ in LOADED]
    for conn in conns:
        conn.execute("SET session_replication_role = replica")  # no FK triggers during the load
        conn.execute("SET synchronous_commit = off")
    copies = [
        conns[0].cursor().copy(f"COPY contacts_contact ({', '.join(CONTACT_COLUMNS)}) FROM STDIN"),
        conns[1].cursor().copy("COPY contacts_identity (contact_id, kind, value, source, created_at) FROM STDIN"),
        conns[2].cursor().copy("COPY identity_matchkey (contact_id, key) FROM STDIN"),
        conns[3].cursor().copy("COPY contacts_event (contact_id, type, at, source, data, actor_id) FROM STDIN"),
        conns[4]
        .cursor()
        .copy(
            "COPY lifecycle_stagechange (contact_id, from_stage_id, to_stage_id, cause, reason, actor_id, at)"
            " FROM STDIN"
        ),
    ]
    streams = [c.__enter__() for c in copies]
    keys_written = 0
    try:
        for chunk_start in range(low, high, CHUNK):
            buffers: list[list[str]] = [[] for _ in LOADED]
            contacts, identities, matchkeys, events, changes = buffers
            for i in range(chunk_start, min(chunk_start + CHUNK, high)):
                entry = order[i]
                if entry >= 0:
                    row = person(entry, kinds[entry])
                else:
                    p = -1 - entry
                    gen.rng = random.Random(SEED * 7_000_003 + p)
                    row = duplicate(person(p, kinds[p]), kinds[p], phone_number(originals + p), gen)
                pk = i + 1
                name = clean_name(row["full_name"])
                parts = split_name(name)
                company_id, company = companies[pk % len(companies)] if row["company"] else (None, "")
                at = (start + span * i + timedelta(seconds=pk % 3600)).isoformat()
                rng_pick = pk % 7
                contacts.append("\t".join(_tsv(v) for v in (
                    pk, name, parts.family, parts.middle, parts.given, fold(name), row["gender"],
                    row["birth_date"] or None, row["email"], row["phone"], "", "", row["province"], row["address"],
                    NEEDS[rng_pick], "", 0, 0, 0.0, None, "cold", SOURCES[pk % len(SOURCES)], "",
                    CAMPAIGNS[pk % len(CAMPAIGNS)], "", "",
                    "{}", at, at, at, company_id, None, stage_id, None,
                )))  # fmt: skip
                ids = []
                for kind in ("phone", "email"):
                    if row[kind]:
                        identities.append(f"{pk}\t{kind}\t{_tsv(row[kind])}\tbench\t{at}")
                        ids.append(f"{kind}:{row[kind]}")
                record = Record.build(
                    pk, name=name, phones=[row["phone"]], emails=[row["email"]], address=row["address"],
                    province=row["province"], company=company, birth_date=row["birth_date"],
                )  # fmt: skip
                for key in blocking_keys(record):
                    matchkeys.append(f"{pk}\t{_tsv(key[:160])}")
                events.append(f"{pk}\timported\t{at}\tbench\t{_tsv(json.dumps({'identities': ids}))}\t\\N")
                changes.append(f"{pk}\t\\N\t{stage_id}\timport\t\t\\N\t{at}")
            keys_written += len(matchkeys)
            for stream, lines in zip(streams, buffers, strict=True):
                stream.write("\n".join(lines) + "\n")
        for copy in copies:
            copy.__exit__(None, None, None)
        for conn in conns:
            conn.commit()
    finally:
        for conn in conns:
            conn.close()
    return keys_written


def _load_part_args(args: tuple[Any, ...]) -> int:
    return load_part(*args)


# --- the benchmark --------------------------------------------------------------------------------


def _database_url() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("--scale needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/any_db (not SQLite)")
    base = url.rpartition("/")[0]
    return f"{base}/postgres", f"{base}/{BENCH_DB}"


def _admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def _secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of the loaded tables that back no constraint."""
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
        [list(LOADED)],
    )
    return list(cursor.fetchall())


def load(n: int, bench_url: str) -> dict[str, object]:
    """Fill the migrated database with n contacts; return what was loaded."""
    import psycopg
    from django.db import connection

    from nurture.contacts.models import Company
    from nurture.core import clock
    from nurture.lifecycle.stages import entry_stage_id

    started = time.perf_counter()
    now = clock.now()
    stage_id = entry_stage_id()
    Company.objects.bulk_create(
        [
            Company(name=(name := pattern.format(brand)), name_folded=name.lower(), created_at=now)
            for pattern in vn_dupes.COMPANIES
            for brand in vn_dupes.BRANDS
        ]
    )
    companies = list(Company.objects.order_by("pk").values_list("pk", "name"))
    order, kinds = plan(n)
    with connection.cursor() as cursor:
        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    connection.close()
    meta = {
        "companies": companies,
        "originals": len(kinds),
        "contacts": n,
        "stage_id": stage_id,
        "start": (now - timedelta(days=740)).astimezone(UTC).isoformat(),
    }
    workers = max(1, min(4, os.cpu_count() or 1))
    bounds = [n * w // workers for w in range(workers + 1)]
    parts = [(bench_url, bounds[w], bounds[w + 1], order, bytes(kinds), meta) for w in range(workers)]
    log(f"loading {n} contacts ({n - len(kinds)} duplicates) with {workers} processes, COPY ...")
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        keys = sum(pool.map(_load_part_args, parts))
    copied = time.perf_counter() - started
    log(f"copied in {copied:.1f} s ({n / copied:.0f} contacts/s, {keys} blocking keys); building indexes ...")
    with psycopg.connect(bench_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute(f"SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), {max(n, 1)})")
        log(f"indexes built at {time.perf_counter() - started:.1f} s; VACUUM ANALYZE ...")
        # VACUUM too: the visibility map autovacuum would have set (index-only scans on the blocking keys),
        # and no autovacuum of the fresh tables competing with the measurements.
        conn.execute("VACUUM (ANALYZE)")
    elapsed = time.perf_counter() - started
    log(f"loaded in {elapsed:.1f} s")
    return {"load_s": round(elapsed, 1), "matchkeys": keys, "planted_duplicates": n - len(kinds)}


def online_leads(n: int, originals: int) -> list[dict[str, str]]:
    """Raw incoming leads: half new people, half loaded contacts typed again with a new phone."""
    from nurture.contacts.models import Contact
    from nurture.core.normalise import split_name

    rng = random.Random(SEED + 1)
    gen = vn_dupes.Generator(SEED + 2)
    half = ONLINE_LEADS // 2
    fields = ("full_name", "email", "address", "birth_date", "province")
    known = list(
        Contact.objects.exclude(birth_date=None).exclude(address="").order_by("?").values(*fields)[: half // 2]
    ) + list(Contact.objects.exclude(email="").order_by("?").values(*fields)[: half - half // 2])
    leads = []
    for j, contact in enumerate(known):
        parts = split_name(contact["full_name"])
        shape = {"family": parts.family, "middle": parts.middle, "given": parts.given, "female": rng.random() < 0.5}
        lead = {
            "full_name": gen.name_text(shape),
            "phone": gen.phone_text("0" + phone_number(3 * n + j)[3:], False),
            "province": contact["province"],
        }
        if j < half // 2:  # same birth date and address
            lead.update(birth_date=contact["birth_date"].strftime("%d/%m/%Y"), address=contact["address"])
        else:  # same part before @, another mailbox
            lead["email"] = contact["email"].partition("@")[0] + "@outlook.com"
        leads.append(lead)
    for j in range(ONLINE_LEADS - len(leads)):
        new = person(originals + 10_000_000 + j)
        lead = {k: new[k] for k in ("full_name", "email", "address", "province")}
        lead["phone"] = gen.phone_text("0" + phone_number(3 * n + half + j)[3:], False)
        if new["birth_date"]:
            lead["birth_date"] = new["birth_date"]
        leads.append(lead)
    rng.shuffle(leads)
    return leads


def match_latency(n: int, originals: int) -> dict[str, object]:
    from nurture.contacts.leads import parse_lead
    from nurture.identity.candidates import candidates, current_config, lead_record
    from nurture.identity.matching import decide

    leads = [parse_lead(raw) for raw in online_leads(n, originals)]
    for lead in leads[:20]:  # warm up the connection and caches
        candidates([lead_record([lead])], current_config())
    timings, outcomes = [], {"merge": 0, "review": 0, "new": 0}
    for lead in leads:
        started = time.perf_counter()
        config = current_config()
        matches = candidates([lead_record([lead])], config)[0]
        decisions = [decide(match, config) for _, match in matches]
        timings.append(time.perf_counter() - started)
        best = "merge" if "merge" in decisions else "review" if "review" in decisions else "new"
        outcomes[best] += 1
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    log(f"online match: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {timings[-1] * 1000:.1f} ms, {outcomes}")
    return {"match_p50_ms": round(p50, 2), "match_p99_ms": round(p99, 2), "match_outcomes": outcomes}


class RssSampler(threading.Thread):
    """The peak resident memory of this process, from /proc/self/status every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running = rss_mb(), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.2)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def batch(report_dir: Path) -> dict[str, object]:
    from nurture.core import clock
    from nurture.identity import batch as dedupe_batch
    from nurture.identity.models import DedupeRun

    run = DedupeRun.objects.create(dry_run=False, created_at=clock.now())
    before = rss_mb()
    sampler = RssSampler()
    started = time.perf_counter()
    last = [started]

    def progress(r: DedupeRun) -> None:
        if time.perf_counter() - last[0] >= 15:
            last[0] = time.perf_counter()
            log(f"  batch {r.processed}/{r.total} contacts, {r.pairs} pairs, {r.merged} merged, {r.proposed} "
                f"proposed, {last[0] - started:.0f} s, {rss_mb():.0f} MB")  # fmt: skip

    log(f"batch de-duplication run #{run.pk} over the whole database, merges applied ...")
    sampler.start()
    try:
        run = dedupe_batch.run(run, report_dir=report_dir, on_progress=progress)
    finally:
        sampler.running = False
        sampler.join()
    elapsed = time.perf_counter() - started
    log(f"batch: {elapsed:.1f} s, peak {sampler.peak:.0f} MB (before {before:.0f} MB), {run.total} contacts, "
        f"{run.pairs} pairs, {run.merged} merged, {run.proposed} proposed")  # fmt: skip
    return {
        "batch_s": round(elapsed, 1),
        "batch_peak_mb": round(sampler.peak, 1),
        "rss_before_batch_mb": round(before, 1),
        "batch_contacts": run.total,
        "pairs": run.pairs,
        "merged": run.merged,
        "proposed": run.proposed,
    }


def run_scale(contacts: int) -> dict[str, object]:
    admin_url, bench_url = _database_url()
    _admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin(admin_url, f"CREATE DATABASE {BENCH_DB}")
    scratch = Path(tempfile.mkdtemp(prefix="nurture-scale-"))
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("NURTURE_VAR_DIR", str(scratch / "var"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nurture.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        log(f"database {BENCH_DB} migrated")
        result: dict[str, object] = {"bench": "dedup_scale", "contacts": contacts}
        loaded = load(contacts, bench_url)
        result.update(match_latency(contacts, contacts - int(contacts * DUPLICATE_SHARE)))
        result.update(batch(scratch / "dedupe"))
        result.update(loaded)
        connections.close_all()
    finally:
        _admin(admin_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        shutil.rmtree(scratch, ignore_errors=True)  # the clean-up's CSV report
        log(f"database {BENCH_DB} dropped")
    return result
