"""Predictive conversion scoring: learn from past leads which new ones are likely to convert.

Pure Python + numpy + scikit-learn, no Django, so the same code serves the app, the CLI and bench/scoring.py.
Rows are plain dicts of column -> value; `infer_columns` decides which columns are numbers and which are
categories, `train` fits a calibrated model, `explain` names the factors behind one lead's score.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

# scikit-learn and joblib are imported where they are used: the web app, the worker and every CLI verb load
# this module at start-up (through the scoring views and jobs), and importing scikit-learn takes a second.

Value = str | float | None
Row = dict[str, Value]
Kind = Literal["numeric", "categorical"]
Factor = tuple[str, str, float]  # column, its value as text, percentage points it adds

MIN_EXAMPLES = 200
MIN_POSITIVES = 20
# Web forms put this placeholder in a drop-down the person never touched: it is no answer, not a category.
MISSING_MARKERS = frozenset({"", "select"})
MISSING_LABEL = "(missing)"


class NotEnoughHistory(ValueError):
    """Too few past leads (or conversions) to learn anything trustworthy."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass
class Table:
    """Rows as column -> value dicts (strings straight from a CSV, or numbers), with the column names in order."""

    rows: list[Row]
    columns: list[str]

    @classmethod
    def from_csv(cls, path: str | Path) -> Table:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows: list[Row] = [dict(r) for r in reader]
            return cls(rows=rows, columns=list(reader.fieldnames or []))


def _is_missing(value: Value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in MISSING_MARKERS


def _as_float(value: Value) -> float:
    if _is_missing(value):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _as_category(value: Value) -> str | float:
    # NaN, not a sentinel string, so the encoder and the boosting treat it as missing and learn where it goes.
    if _is_missing(value):
        return math.nan
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def infer_columns(rows: Sequence[Row], exclude: Iterable[str] = ()) -> list[Column]:
    """Numeric when most non-missing values parse as numbers; columns with no value at all are dropped."""
    skip = set(exclude)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = []
    for name in names:
        if name in skip:
            continue
        present = [v for row in rows if not _is_missing(v := row.get(name))]
        if not present:
            continue
        numeric = sum(not math.isnan(_as_float(v)) for v in present)
        columns.append(Column(name, "numeric" if numeric * 2 > len(present) else "categorical"))
    return columns


def _matrix(rows: Sequence[Row], columns: Sequence[Column]) -> np.ndarray:
    """Object array, categorical columns first (the model's column transformers rely on that order)."""
    ordered = _ordered(columns)
    out = np.empty((len(rows), len(ordered)), dtype=object)
    for j, col in enumerate(ordered):
        convert = _as_category if col.kind == "categorical" else _as_float
        out[:, j] = [convert(row.get(col.name)) for row in rows]
    return out


def _ordered(columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.kind == "categorical"] + [c for c in columns if c.kind == "numeric"]


def _to_float(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float)


def build_model(columns: Sequence[Column], n_examples: int = 10_000, seed: int = 0) -> Any:
    """Calibrated gradient boosting with native categorical splits; expects `_ordered` columns, as `_matrix` gives.

    Measured on X Education leads (bench/scoring.py): averaging in a spline logistic regression helped one
    feature set and hurt the other, so the boosting stands alone. Small trees, column subsampling and L2 keep it
    from memorising small CRM tables; early stopping picks the number of trees.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    if not columns:
        raise ValueError("no feature columns to learn from")
    n_cat = sum(c.kind == "categorical" for c in columns)
    # Rare categories are grouped: one-off values would otherwise be memorised; 254 keeps within HGB's 255 bins.
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        min_frequency=10,
        max_categories=254,
        dtype=float,
    )
    encode = ColumnTransformer(
        [
            ("cat", ordinal, list(range(n_cat))),
            ("num", FunctionTransformer(_to_float), list(range(n_cat, len(columns)))),
        ],
        sparse_threshold=0,
    )
    boosting = HistGradientBoostingClassifier(
        learning_rate=0.03,
        max_iter=1000,
        max_leaf_nodes=8,
        min_samples_leaf=20,
        l2_regularization=1.0,
        max_features=0.5,
        categorical_features=[i < n_cat for i in range(len(columns))],
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=50,
        random_state=seed,
    )
    # Isotonic needs a few hundred examples per calibration fold to beat the sigmoid; with cv=5 the 5 fitted
    # models are averaged, which also smooths the boosting's variance.
    method = "isotonic" if n_examples >= 2000 else "sigmoid"
    # Encoding sits outside the calibration (it learns no target, so nothing leaks): rows are encoded once per
    # call instead of once per fold model, which is most of the cost of scoring a handful of rows in `explain`.
    return make_pipeline(encode, CalibratedClassifierCV(boosting, method=method, cv=5))


@dataclass
class TrainedModel:
    estimator: Any
    columns: list[Column]
    # The value each column is set to when its effect is measured in `explain`: mode or median of training data.
    typical: dict[str, Value]
    metrics: dict[str, float] = field(default_factory=dict)
    n_examples: int = 0
    n_positive: int = 0

    def predict_proba(self, rows: Sequence[Row]) -> list[float]:
        if not rows:
            return []
        return [float(p) for p in self.estimator.predict_proba(_matrix(rows, self.columns))[:, 1]]


def _typical(rows: Sequence[Row], column: Column) -> Value:
    if column.kind == "numeric":
        values = [v for row in rows if not math.isnan(v := _as_float(row.get(column.name)))]
        return float(np.median(values)) if values else None
    counts = Counter(c for row in rows if isinstance(c := _as_category(row.get(column.name)), str))
    return counts.most_common(1)[0][0] if counts else None


def _check_history(labels: np.ndarray) -> None:
    n, positives = len(labels), int(labels.sum())
    negatives = n - positives
    if n < MIN_EXAMPLES or min(positives, negatives) < MIN_POSITIVES:
        raise NotEnoughHistory(
            f"need at least {MIN_EXAMPLES} past leads with {MIN_POSITIVES} conversions and {MIN_POSITIVES} "
            f"non-conversions; have {n} leads, {positives} converted, {negatives} not"
        )


def train(
    rows: Sequence[Row],
    target_of_row: Callable[[Row], bool | int],
    columns: Sequence[Column],
    *,
    evaluate_folds: int = 3,
    seed: int = 0,
) -> TrainedModel:
    """Fit on all rows; with evaluate_folds >= 2 also cross-validate so `metrics` are honest out-of-sample."""
    labels = np.array([1 if target_of_row(row) else 0 for row in rows], dtype=int)
    _check_history(labels)
    columns = _ordered(columns)
    estimator = build_model(columns, len(labels), seed)
    estimator.fit(_matrix(rows, columns), labels)
    metrics = (
        cross_validate(rows, labels.tolist(), columns, folds=evaluate_folds, seed=seed) if evaluate_folds > 1 else {}
    )
    return TrainedModel(
        estimator=estimator,
        columns=columns,
        typical={c.name: _typical(rows, c) for c in columns},
        metrics=metrics,
        n_examples=len(labels),
        n_positive=int(labels.sum()),
    )


def _display(value: Value) -> str:
    if _is_missing(value):
        return MISSING_LABEL
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).strip()


def explain(model: TrainedModel, row: Row, top: int = 3) -> list[Factor]:
    """Top factors as (column, value, percentage points the value adds over the column's typical value).

    Occlusion: one batch holds the row itself plus one copy per column with that column set to its typical
    value, so a single predict_proba call prices every factor.
    """
    return explain_many(model, [row], top)[0][1]


def explain_many(model: TrainedModel, rows: Sequence[Row], top: int = 3) -> list[tuple[float, list[Factor]]]:
    """(probability, top factors) of each row, as `explain` gives them, priced in ONE predict_proba call.

    Scoring a whole contact book row by row would pay the pipeline's fixed cost per contact; a batch of a few
    hundred rows pays it once.
    """
    width = len(model.columns) + 1
    variants: list[Row] = []
    for row in rows:
        variants.append(row)
        variants.extend({**row, col.name: model.typical[col.name]} for col in model.columns)
    probabilities = model.predict_proba(variants)
    out = []
    for i, row in enumerate(rows):
        base, occluded = probabilities[i * width], probabilities[i * width + 1 : (i + 1) * width]
        effects = [
            (col.name, _display(row.get(col.name)), round(100.0 * (base - p), 2))
            for col, p in zip(model.columns, occluded, strict=True)
        ]
        effects = [e for e in effects if e[2] != 0.0]
        effects.sort(key=lambda e: abs(e[2]), reverse=True)
        out.append((base, effects[:top]))
    return out


def scores(labels: Sequence[int], probabilities: Sequence[float]) -> dict[str, float]:
    """ROC AUC, Brier score and top-decile lift (conversion rate in the top 10% of scores / overall rate)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(labels, dtype=int)
    p = np.asarray(probabilities, dtype=float)
    # Stable sort on the negated scores: ties keep input order, so the figure does not depend on sort quirks.
    top = np.argsort(-p, kind="stable")[: max(1, math.ceil(len(p) / 10))]
    rate = y.mean()
    return {
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "lift": float(y[top].mean() / rate) if rate else 0.0,
    }


def cross_validate(
    rows: Sequence[Row], labels: Sequence[int], columns: Sequence[Column], folds: int = 5, seed: int = 0
) -> dict[str, float]:
    """Stratified k-fold, out-of-fold predictions for every row, scored together (not averaged per fold)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray([1 if v else 0 for v in labels], dtype=int)
    if len(y) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(y)} labels")
    columns = _ordered(columns)
    x = _matrix(rows, columns)
    oof = np.zeros(len(y), dtype=float)
    for fit_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        estimator = build_model(columns, len(fit_idx), seed)
        estimator.fit(x[fit_idx], y[fit_idx])
        oof[test_idx] = estimator.predict_proba(x[test_idx])[:, 1]
    return scores(y.tolist(), oof.tolist())


def save(model: TrainedModel, path: str | Path) -> None:
    import joblib

    joblib.dump(model, path, compress=3)


def load(path: str | Path) -> TrainedModel:
    import joblib

    model = joblib.load(path)
    if not isinstance(model, TrainedModel):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a TrainedModel")
    return model


__all__ = [
    "MIN_EXAMPLES",
    "MIN_POSITIVES",
    "Column",
    "Factor",
    "NotEnoughHistory",
    "Table",
    "TrainedModel",
    "build_model",
    "cross_validate",
    "explain",
    "explain_many",
    "infer_columns",
    "load",
    "save",
    "scores",
    "train",
]
