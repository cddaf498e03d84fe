"""Batch de-duplication of the whole database, in bounded memory.

Candidate pairs come from the MatchKey table joined with itself, one range of contact ids at a time,
through a temporary table of the usable blocks (shared by 2 to `block_cap` contacts, fewer for name keys): a very common
name is never a block. Each pair is scored, decided and written to the CSV report; merges and
possible duplicates are applied unless it is a dry run.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from nurture.contacts.models import Contact
from nurture.core import clock
from nurture.identity.actions import MergeRequest, merge_many, save_match_settings
from nurture.identity.candidates import contact_records, current_config, refresh_keys
from nurture.identity.matching import NAME_KEYS, MatchConfig, Record, clusters, compare, decide, learn_weights
from nurture.identity.models import DedupeRun, DuplicatePair, MatchKey

ID_RANGE = 5000
KEYS_PER_QUERY = 1000
LEARN_PAIRS = 200_000
LEARN_MIN_PAIRS = 1_000
REPORT_COLUMNS = ["contact_a", "contact_b", "name_a", "name_b", "score", "decision", "reasons"]


def rebuild_keys(progress: Callable[[int, int], None] | None = None) -> None:
    """Recompute every contact's blocking keys (after an upgrade or a change of the key rules)."""
    ids = list(Contact.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), ID_RANGE):
        with transaction.atomic():
            refresh_keys(ids[start : start + ID_RANGE])
        if progress:
            progress(min(start + ID_RANGE, len(ids)), len(ids))


def _usable_blocks(config: MatchConfig) -> None:
    name_keys = " OR ".join("key LIKE %s" for _ in NAME_KEYS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS dedupe_block")
        cursor.execute(
            "CREATE TEMPORARY TABLE dedupe_block AS SELECT key FROM identity_matchkey GROUP BY key"
            f" HAVING COUNT(*) >= 2 AND COUNT(*) <= CASE WHEN {name_keys} THEN %s ELSE %s END",
            [*(f"{prefix}%" for prefix in NAME_KEYS), config.name_block_cap, config.block_cap],
        )
        cursor.execute("CREATE INDEX dedupe_block_key ON dedupe_block (key)")


def _pairs_in_range(low: int, high: int) -> list[tuple[int, int]]:
    """Pairs (a, b), a < b, sharing a usable block, for the contacts a in [low, high).

    Two index lookups rather than one three-way join: PostgreSQL plans that join as a sequential
    scan of the whole key table for every range.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.key, a.contact_id FROM identity_matchkey a JOIN dedupe_block k ON k.key = a.key"
            " WHERE a.contact_id >= %s AND a.contact_id < %s",
            [low, high],
        )
        mine: dict[str, list[int]] = {}
        for key, contact_id in cursor.fetchall():
            mine.setdefault(key, []).append(contact_id)
        keys = sorted(mine)
        pairs: set[tuple[int, int]] = set()
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[start : start + KEYS_PER_QUERY]
            cursor.execute(
                f"SELECT key, contact_id FROM identity_matchkey WHERE key IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for key, other in cursor.fetchall():
                pairs.update((a, other) for a in mine[key] if other > a)
    return sorted(pairs)


def _ranges() -> Iterator[tuple[int, int]]:
    bounds = MatchKey.objects.aggregate(low=Min("contact_id"), high=Max("contact_id"))
    if bounds["low"] is None:
        return
    for low in range(bounds["low"], bounds["high"] + 1, ID_RANGE):
        yield low, low + ID_RANGE


def _scored(config: MatchConfig) -> Iterator[tuple[int, list[tuple[Record, Record]]]]:
    """Per id range: how many contacts it held and its candidate pairs as records.

    A pair's second contact has the higher id, so a record loaded as a partner is reused when its own
    range comes, and nothing below the current range is needed again.
    """
    records: dict[int, Record] = {}
    for low, high in _ranges():
        pairs = _pairs_in_range(low, high)
        records = {pk: r for pk, r in records.items() if pk >= low}
        records.update(contact_records({c for pair in pairs for c in pair} - set(records)))
        count = Contact.objects.filter(pk__gte=low, pk__lt=high, merged_into__isnull=True).count()
        yield count, [(records[a], records[b]) for a, b in pairs if a in records and b in records]


def learn(progress: Callable[[str], None]) -> MatchConfig | None:
    """Fit the field weights to this database by EM over its candidate pairs; store them.

    With too few pairs the fit would follow a handful of cases: the weights are left as they are.
    """
    config = current_config()
    _usable_blocks(config)
    sample: list[tuple[Record, Record]] = []
    for _, pairs in _scored(config):
        sample.extend(pairs)
        if len(sample) >= LEARN_PAIRS:
            break
    if len(sample) < LEARN_MIN_PAIRS:
        progress(f"too few candidate pairs to learn from ({len(sample)} < {LEARN_MIN_PAIRS}); weights unchanged")
        return None
    learned = learn_weights(sample, config)
    row = save_match_settings(
        auto_merge=learned.auto_merge, review=learned.review, prior=learned.prior,
        weights={k: list(v) for k, v in learned.weights.items()}, learned=True,
    )  # fmt: skip
    progress(f"learned from {len(sample)} candidate pairs: prior {learned.prior}, weights {row.weights}")
    return learned


def run(
    dedupe: DedupeRun, report_dir: Path | None = None, on_progress: Callable[[DedupeRun], None] | None = None
) -> DedupeRun:
    """Run a batch de-duplication, updating `dedupe` as it goes (the UI polls it)."""
    config = current_config()
    if dedupe.auto_merge_above is not None:
        config = replace(config, auto_merge=dedupe.auto_merge_above)
    report_dir = report_dir or Path(settings.VAR_DIR) / "dedupe"
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"dedupe-{dedupe.pk}.csv"
    dedupe.status, dedupe.started_at, dedupe.report = DedupeRun.Status.RUNNING, clock.now(), str(report)
    dedupe.total = Contact.objects.filter(merged_into__isnull=True).count()
    dedupe.save()
    if not MatchKey.objects.exists():
        rebuild_keys()
    _usable_blocks(config)
    survivor_of: dict[int, int] = {}  # merged id -> survivor id, followed to the end of a chain
    with report.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REPORT_COLUMNS)
        for count, pairs in _scored(config):
            # One transaction per chunk, each merge a savepoint in it: a commit per merge would cost
            # an fsync each.
            with transaction.atomic():
                _decide(dedupe, pairs, config, writer, survivor_of)
            dedupe.processed = min(dedupe.processed + count, dedupe.total)
            DedupeRun.objects.filter(pk=dedupe.pk).update(
                processed=dedupe.processed, pairs=dedupe.pairs, merged=dedupe.merged, proposed=dedupe.proposed
            )
            if on_progress:
                on_progress(dedupe)
    dedupe.status, dedupe.finished_at, dedupe.processed = DedupeRun.Status.DONE, clock.now(), dedupe.total
    dedupe.save()
    return dedupe


def _decide(
    dedupe: DedupeRun, pairs: list[tuple[Record, Record]], config: MatchConfig, writer: Any, survivor_of: dict[int, int]
) -> None:
    """Score a chunk's pairs, report them, merge the sure ones and propose the grey zone."""
    not_same = set(
        DuplicatePair.objects.filter(
            contact_a_id__in={a.id for a, _ in pairs}, status=DuplicatePair.Status.NOT_SAME
        ).values_list("contact_a_id", "contact_b_id")
    )
    proposals = []
    sure: list[tuple[int, int, float]] = []
    for a, b in pairs:
        match = compare(a, b, config)
        decision = "not_same" if (a.id, b.id) in not_same else decide(match, config)
        if decision == "new":
            continue
        writer.writerow([a.id, b.id, a.name, b.name, match.score, decision,
                         " ".join(f"{r.field}:{r.level}" for r in match.reasons)])  # fmt: skip
        dedupe.pairs += 1
        if decision == "merge":
            dedupe.merged += 1
            sure.append((_final(a.id, survivor_of), _final(b.id, survivor_of), match.score))
        elif decision == "review":
            dedupe.proposed += 1
            proposals.append(
                DuplicatePair(contact_a_id=a.id, contact_b_id=b.id, score=match.score, reasons=match.reasons_json(),
                              found_by=DuplicatePair.FoundBy.BATCH, created_at=clock.now())
            )  # fmt: skip
    if not dedupe.dry_run:
        DuplicatePair.objects.bulk_create(proposals, ignore_conflicts=True)
        _merge_clusters(sure, survivor_of)


def _final(contact_id: int, survivor_of: dict[int, int]) -> int:
    while contact_id in survivor_of:
        contact_id = survivor_of[contact_id]
    return contact_id


def _merge_clusters(sure: list[tuple[int, int, float]], survivor_of: dict[int, int]) -> None:
    """Merge each group of sure matches into its oldest contact, all in one set-based merge."""
    ids = sorted({c for a, b, _ in sure for c in (a, b)})
    index = {c: i for i, c in enumerate(ids)}
    labels = clusters(len(ids), [(index[a], index[b]) for a, b, _ in sure if a != b])
    score: dict[int, float] = {}
    for a, b, s in sure:
        for c in (a, b):
            score[c] = max(score.get(c, 0.0), s)
    created = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    groups: dict[int, list[int]] = {}
    for c, label in zip(ids, labels, strict=True):
        groups.setdefault(label, []).append(c)
    requests: list[MergeRequest] = []
    for members in groups.values():
        survivor = min(members, key=lambda c: (created[c], c))
        requests.extend(MergeRequest(survivor, c, score[c]) for c in members if c != survivor)
    for merge in merge_many(requests, actor=None, strict=False):
        survivor_of[merge.merged_id] = merge.survivor_id
