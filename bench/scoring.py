"""Conversion-scoring benchmark: out-of-fold accuracy of the predictive scoring pipeline.

  .venv/bin/python bench/scoring.py --xeducation                      X Education leads (shared/data/Leads.csv),
                                                                      (a) without Tags / Lead Quality,
                                                                      (b) also without the other sales-entered
                                                                      and activity columns
  .venv/bin/python bench/scoring.py --input F.csv --target COL [--id COL]
                                                                      any CSV, target 0/1 or yes/no/true/false
  DATABASE_URL=postgres://... .venv/bin/python bench/scoring.py --scale 1000000   re-scoring, segment count

Prints progress, then ONE JSON line. Figures are stratified 5-fold out-of-fold: ROC AUC, Brier score and
top-decile lift (conversion rate of the 10% best-scored leads / overall rate).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nurture.scoring.predict import Row, Table, cross_validate, infer_columns  # noqa: E402

LEADS = ROOT.parent / "shared" / "data" / "Leads.csv"
XEDU_TARGET = "Converted"
XEDU_IDS = ("Prospect ID", "Lead Number")
# Filled in by sales staff after talking to the lead: they leak the outcome (see shared/data/README.md).
SALES_ENTERED = ("Tags", "Lead Quality")
AFTER_CONTACT = (
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Activity",
    "Last Notable Activity",
)
TRUE = {"1", "1.0", "yes", "y", "true", "t"}
FALSE = {"0", "0.0", "no", "n", "false", "f"}


def labels_of(rows: Sequence[Row], target: str) -> list[int]:
    labels = []
    for i, row in enumerate(rows):
        value = str(row.get(target) or "").strip().lower()
        if value not in TRUE | FALSE:
            raise SystemExit(f"row {i + 1}: target {target!r} is {row.get(target)!r}, expected 0/1 or yes/no")
        labels.append(1 if value in TRUE else 0)
    return labels


def evaluate(rows: Sequence[Row], target: str, exclude: Sequence[str]) -> dict[str, float]:
    labels = labels_of(rows, target)
    columns = infer_columns(rows, exclude=[target, *exclude])
    kinds = ", ".join(f"{c.name}:{c.kind[0]}" for c in columns)
    print(f"{len(rows)} rows, {sum(labels)} positive, {len(columns)} columns ({kinds})", file=sys.stderr)
    started = time.perf_counter()
    figures = cross_validate(rows, labels, columns, folds=5, seed=0)
    print(
        f"  auc {figures['auc']:.4f}  brier {figures['brier']:.4f}  lift {figures['lift']:.2f}  "
        f"({time.perf_counter() - started:.1f}s)",
        file=sys.stderr,
    )
    return {k: round(v, 4) for k, v in figures.items()}


def xeducation() -> dict[str, object]:
    if not LEADS.exists():
        raise SystemExit(f"{LEADS} not found")
    table = Table.from_csv(LEADS)
    print("(a) without Tags, Lead Quality", file=sys.stderr)
    a = evaluate(table.rows, XEDU_TARGET, [*XEDU_IDS, *SALES_ENTERED])
    print("(b) also without Lead Profile, Asymmetrique *, Last (Notable) Activity", file=sys.stderr)
    b = evaluate(table.rows, XEDU_TARGET, [*XEDU_IDS, *SALES_ENTERED, *AFTER_CONTACT])
    return {
        "auc_a": a["auc"],
        "brier_a": a["brier"],
        "lift_a": a["lift"],
        "auc_b": b["auc"],
        "brier_b": b["brier"],
        "lift_b": b["lift"],
        "rows": len(table.rows),
    }


def from_csv(path: Path, target: str, id_column: str | None) -> dict[str, object]:
    table = Table.from_csv(path)
    if target not in table.columns:
        raise SystemExit(f"{path}: no column {target!r} (have {', '.join(table.columns)})")
    figures = evaluate(table.rows, target, [id_column] if id_column else [])
    return {**figures, "rows": len(table.rows)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--xeducation", action="store_true", help="X Education leads, settings (a) and (b)")
    mode.add_argument("--input", type=Path, metavar="FILE.csv", help="any CSV with a 0/1 target column")
    mode.add_argument("--scale", type=int, metavar="CONTACTS", help="PostgreSQL: re-scoring and segment count")
    parser.add_argument("--target", help="target column of --input")
    parser.add_argument("--id", dest="id_column", help="identifier column of --input, left out of the features")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.scale:
        sys.path.insert(0, str(ROOT / "bench"))
        from scoring_scale import run_scale

        print(json.dumps(run_scale(args.scale)))
        return
    if args.xeducation:
        result = xeducation()
    else:
        if not args.target:
            parser.error("--input needs --target")
        result = from_csv(args.input, args.target, args.id_column)
    print(json.dumps({"bench": "scoring", **result, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
