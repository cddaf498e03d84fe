"""Predictive scoring in the product: train and activate model versions, predict open contacts, explain,
and suggest the best time to contact a lead.

The table comes from `training` (this CRM's own history, no leakage), the learning from `predict`. A trained
model is a file in settings.NURTURE_MODELS_DIR plus a `ModelVersion` row; exactly one version is active.
Training predicts every open contact in bulk; a contact captured or active since then is predicted again
when its page or API answer is shown (`prediction_for`), with the model loaded once per process.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.core import clock, revisions
from nurture.core.jobs import enqueue_many, enqueue_on_commit
from nurture.scoring import predict, training
from nurture.scoring.actions import scoring_settings
from nurture.scoring.models import ModelVersion, Prediction, ScoringSettings, TrainingRun
from nurture.scoring.predict import MIN_EXAMPLES, MIN_POSITIVES, NotEnoughHistory, TrainedModel

log = logging.getLogger(__name__)

FOLDS = 5  # cross-validation folds behind a version's metrics
TOP_FACTORS = 3
PREDICT_CHUNK = 1000  # contacts per write transaction when predicting everyone
EXPLAIN_BATCH = 200  # rows per predict_proba call (each row brings one copy per column)
KEEP_ARTEFACTS = 5  # model files kept besides the active one's
PENDING_RUN_LIFETIME = timedelta(hours=1)  # 100,000 contacts train in about 3 minutes

__all__ = ["NotEnoughHistory", "active_model", "best_time_to_contact", "predict_contacts", "train_model"]


# --- model versions ------------------------------------------------------------------------------


def models_dir() -> Path:
    return Path(settings.NURTURE_MODELS_DIR)


MODEL_REVISION = "scoring-model"


def active_model() -> ModelVersion | None:
    """The active version, held per process until a version is saved (core.revisions): every lead page asks."""
    return revisions.snapshot(MODEL_REVISION, ModelVersion.objects.filter(is_active=True).first)


@lru_cache(maxsize=2)
def _load(version_id: int, path: str) -> TrainedModel:
    return predict.load(path)


def loaded(version: ModelVersion) -> TrainedModel:
    """The version's model, read from disk once per process (keyed by version: a new one is a new key)."""
    return _load(version.pk, str(models_dir() / version.artefact))


def train_model(*, actor: User | None = None, notes: str = "") -> ModelVersion:
    """Learn from past leads, store and activate the new version, then predict every open contact.

    Metrics are out-of-fold figures from 5-fold cross-validation; the stored model is fitted on all
    examples. Raises NotEnoughHistory (fewer than 200 past leads or 20 conversions) before anything is
    written, so the active version stays as it was.
    """
    now = clock.now()
    data = training.training_set(now=now)
    columns = predict.infer_columns(data.rows, exclude=[training.LABEL])
    model = predict.train(data.rows, lambda row: row[training.LABEL] == 1.0, columns, evaluate_folds=FOLDS)
    spec = replace(data.spec, columns=tuple(model.columns))
    directory = models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        # One activation at a time: the settings row is the lock (the constraint would fail the loser instead).
        ScoringSettings.objects.select_for_update().get(pk=scoring_settings().pk)
        version = ModelVersion.objects.create(
            trained_at=now, trained_by=actor, examples=model.n_examples, positives=model.n_positive,
            metrics={k: round(v, 4) for k, v in model.metrics.items()}, features=spec.as_json(), notes=notes,
        )  # fmt: skip
        version.artefact = f"model-{version.pk}.joblib"
        path = directory / version.artefact
        try:
            predict.save(model, path)
            ModelVersion.objects.filter(is_active=True).update(is_active=False)
            version.is_active = True
            version.save(update_fields=["artefact", "is_active"])
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    _load.cache_clear()
    predict_all(version)
    _prune_artefacts(version)
    return version


def _prune_artefacts(active: ModelVersion) -> None:
    """Delete the files of older versions beyond the newest few (their rows and metrics stay)."""
    old = ModelVersion.objects.exclude(pk=active.pk).exclude(artefact="").order_by("-trained_at", "-id")
    for version in old[KEEP_ARTEFACTS:]:
        (models_dir() / version.artefact).unlink(missing_ok=True)
        ModelVersion.objects.filter(pk=version.pk).update(artefact="")


# --- training runs (the models page, the API, the daily job) ------------------------------------------


def start_training(*, actor: User | None, reason: str) -> TrainingRun:
    """Queue a training in the background (job `scoring.train`); the run row shows how it went.

    While one is queued or running, asking again returns it: a double click does not train twice. Only
    recent ones count: a run whose worker was killed for good must not block training forever.
    """
    with transaction.atomic():
        pending = TrainingRun.objects.filter(
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING],
            created_at__gte=clock.now() - PENDING_RUN_LIFETIME,
        )
        if (run := pending.first()) is not None:
            return run
        run = TrainingRun.objects.create(reason=reason[:200], actor=actor, created_at=clock.now())
        enqueue_on_commit("scoring.train", {"run_id": run.pk}, key=f"train:{run.pk}")
    return run


def run_training(run: TrainingRun) -> TrainingRun:
    """Train for a run and record how it went. Too little history fails the run with the reason and is not
    retried (waiting will not help within the job's retries); other errors fail it and propagate."""
    run.status, run.started_at = TrainingRun.Status.RUNNING, clock.now()
    run.save(update_fields=["status", "started_at"])
    try:
        version = train_model(actor=run.actor, notes=run.reason)
    except NotEnoughHistory as exc:
        log.info("training run %s: %s", run.pk, exc)
        run.mark_failed(exc)
        run.refresh_from_db()
        return run
    except Exception as exc:
        run.mark_failed(exc)
        raise
    run.model_version, run.status, run.finished_at = version, TrainingRun.Status.DONE, clock.now()
    run.total = run.processed = Prediction.objects.filter(model_version=version).count()
    run.save()
    return run


# --- predictions ---------------------------------------------------------------------------------


def predict_all(version: ModelVersion) -> int:
    """Predict every open contact with this version, in chunks (one transaction each); returns how many.

    Predictions of contacts whose outcome is now known are deleted: a chance to buy means nothing there.
    """
    ids = list(training.open_contacts().order_by("pk").values_list("pk", flat=True))
    count = 0
    for start in range(0, len(ids), PREDICT_CHUNK):
        count += len(_predict(ids[start : start + PREDICT_CHUNK], version))
    Prediction.objects.exclude(contact__in=training.open_contacts()).delete()
    return count


def predict_contacts(ids: Sequence[int]) -> dict[int, Prediction]:
    """Predict these contacts (the open ones among them) with the active model; {} without one."""
    version = active_model()
    if version is None:
        return {}
    open_ids = list(training.open_contacts().filter(pk__in=list(ids)).values_list("pk", flat=True))
    return _predict(open_ids, version)


def _predict(ids: Sequence[int], version: ModelVersion) -> dict[int, Prediction]:
    if not ids:
        return {}
    model = loaded(version)
    spec = training.FeatureSpec.from_json(version.features)
    now = clock.now()
    rows = training.current_rows(ids, spec, now=now)
    order = sorted(rows)
    predictions = []
    for start in range(0, len(order), EXPLAIN_BATCH):
        batch = order[start : start + EXPLAIN_BATCH]
        for pk, (probability, factors) in zip(
            batch, predict.explain_many(model, [rows[pk] for pk in batch], TOP_FACTORS), strict=True
        ):
            predictions.append(Prediction(
                contact_id=pk, model_version=version, probability=round(probability, 4), computed_at=now,
                factors=[{"column": c, "value": v, "delta": d} for c, v, d in factors],
            ))  # fmt: skip
    with transaction.atomic():
        # An upsert: a page view predicting a contact while the nightly run does too cannot fail either.
        Prediction.objects.bulk_create(
            predictions,
            update_conflicts=True,
            unique_fields=["contact"],
            update_fields=["model_version", "probability", "factors", "computed_at"],
        )
    return {p.contact_id: p for p in predictions}


@dataclass(frozen=True)
class FactorView:
    text: str  # in plain words: "Came from google"
    delta: float  # percentage points of probability

    @property
    def delta_text(self) -> str:
        # Whole points read best; below one point a decimal keeps the sign meaningful.
        return f"{self.delta:+.0f}" if abs(self.delta) >= 1 else f"{self.delta:+.1f}"


@dataclass(frozen=True)
class PredictionView:
    """What the contact page and the API show: a chance to buy, or why there is none."""

    prediction: Prediction | None
    fallback: bool  # no active model: rank by the points score instead
    decided: bool = False  # the contact's outcome is known (won or lost stage)

    @property
    def percent(self) -> int | None:
        return round(100 * self.prediction.probability) if self.prediction else None

    @property
    def factors(self) -> list[FactorView]:
        if self.prediction is None:
            return []
        return [FactorView(describe(f["column"], f["value"]), f["delta"]) for f in self.prediction.factors]


def prediction_for(contact: Contact) -> PredictionView:
    """The contact's prediction, computed now when missing or stale (an older model, or the contact
    changed or was active since), so a lead captured a minute ago has one on its first page view."""
    version = active_model()
    if version is None:
        return PredictionView(None, fallback=True)
    if not training.open_contacts().filter(pk=contact.pk).exists():
        return PredictionView(None, fallback=False, decided=True)
    found = Prediction.objects.filter(contact=contact).first()
    changed = max(contact.last_activity_at, contact.updated_at)
    if found is None or found.model_version_id != version.pk or found.computed_at < changed:
        found = _predict([contact.pk], version).get(contact.pk)
    return PredictionView(found, fallback=found is None)


# --- factors in plain words ------------------------------------------------------------------------


def _count_phrase(event_type: str, n: int) -> str:
    phrases = {
        "email_opened": ngettext("Opened %(n)d email", "Opened %(n)d emails", n),
        "page_viewed": ngettext("Viewed %(n)d page", "Viewed %(n)d pages", n),
        "form_submitted": ngettext("Submitted %(n)d form", "Submitted %(n)d forms", n),
        "webinar_attended": ngettext("Attended %(n)d webinar", "Attended %(n)d webinars", n),
        "call_logged": ngettext("%(n)d call logged", "%(n)d calls logged", n),
        "email_clicked": ngettext("Clicked %(n)d email", "Clicked %(n)d emails", n),
        "quote_requested": ngettext("Asked for %(n)d quote", "Asked for %(n)d quotes", n),
        "unsubscribed": ngettext("Unsubscribed %(n)d time", "Unsubscribed %(n)d times", n),
    }
    phrase = phrases.get(event_type) or ngettext("%(n)d “%(type)s” event", "%(n)d “%(type)s” events", n)
    return phrase % {"n": n, "type": event_type}


def describe(column: str, value: str) -> str:
    """A factor as a person would say it: ("source", "google") -> "Came from google"."""
    missing = value == predict.MISSING_LABEL
    number = _number(value)
    if column.startswith("n_") and number is not None:
        if column == "n_events":
            return ngettext("%(n)d activity in total", "%(n)d activities in total", int(number)) % {"n": number}
        return _count_phrase(column[2:], int(number))
    if column.startswith("custom."):
        key = column.removeprefix("custom.")
        return _("%(field)s not given") % {"field": key} if missing else f"{key}: {value}"
    attribute = {
        "source": (_("Came from %(value)s"), _("Source unknown")),
        "medium": (_("Arrived through %(value)s"), _("Medium unknown")),
        "campaign": (_("Campaign %(value)s"), _("No campaign")),
        "province": (_("Lives in %(value)s"), _("Province unknown")),
        "industry": (_("Works in %(value)s"), _("Industry unknown")),
        "job_title": (_("Job title: %(value)s"), _("Job title unknown")),
        "gender": (_("Gender: %(value)s"), _("Gender unknown")),
    }
    if column in attribute:
        known, unknown = attribute[column]
        return unknown if missing else known % {"value": value}
    if column == "email_kind":
        return {"free": _("Uses a free email address"), "company": _("Uses a company email address")}.get(
            value, _("No email address")
        )
    if column == "has_phone":
        return _("Left a phone number") if number else _("No phone number")
    if column == "has_company":
        return _("Named a company") if number else _("No company given")
    if column == "active_days":
        n = int(number or 0)
        return ngettext("Active on %(n)d day", "Active on %(n)d days", n) % {"n": n}
    if column == "days_to_first":
        if number is None:
            return _("Never engaged")
        n = round(number)
        return ngettext("First engaged %(n)d day after arriving", "First engaged %(n)d days after arriving", n) % {
            "n": n
        }
    if column == "engagement_hour":
        return (
            _("Mostly active around %(hour)02d:00") % {"hour": int(number)}
            if number is not None
            else _("Never engaged")
        )
    return f"{column}: {value}"


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


# --- best time to contact --------------------------------------------------------------------------

# The lead's own events count in full; the similar leads' pattern counts as this many events of evidence,
# so one or two own events shift the suggestion and five or more outweigh the crowd.
PRIOR_EVENTS = 5
MIN_SIMILAR_EVENTS = 30  # fewer events from same-source, same-province leads: use all leads instead
WINDOW_HOURS = 2
HISTORY_DAYS = 365  # other leads' events looked at
PRIORS_REFRESH_SECONDS = 6 * 3600  # other leads' patterns change slowly
# Logged calls count only when someone picked up.
UNANSWERED = ("no_answer", "missed", "busy", "failed", "voicemail")


@dataclass(frozen=True)
class BestTime:
    weekday: int | None  # ISO weekday (1 Monday .. 7 Sunday); None when no day stands out
    start_hour: int  # local time, Asia/Ho_Chi_Minh
    end_hour: int
    basis: str  # "lead" (its own activity outweighs the prior), "similar" (same source and province), "all"

    @property
    def hours(self) -> str:
        return f"{self.start_hour:02d}:00–{self.end_hour:02d}:00"

    @property
    def weekday_name(self) -> str:
        return str(WEEKDAYS[self.weekday - 1]) if self.weekday else ""

    @property
    def basis_text(self) -> str:
        return {
            "lead": _("from this lead's activity"),
            "similar": _("from similar leads (same source and province)"),
            "all": _("from all leads"),
        }[self.basis]

    def as_json(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "hours": self.hours, "start_hour": self.start_hour,
                "end_hour": self.end_hour, "basis": self.basis}  # fmt: skip


def _answered_engagement() -> QuerySet[Event]:
    unanswered = Q(type=Event.Type.CALL_LOGGED) & (Q(data__answered=False) | Q(data__outcome__in=UNANSWERED))
    return training.engagement_events().exclude(unanswered)


Histogram = Counter[tuple[int, int]]  # (ISO weekday, local hour) -> events


def _histogram(events: QuerySet[Event]) -> Histogram:
    zone = training.local_zone()
    groups = (
        events.annotate(weekday=ExtractIsoWeekDay("at", tzinfo=zone), hour=ExtractHour("at", tzinfo=zone))
        .values("weekday", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    return Counter({(g["weekday"], g["hour"]): g["n"] for g in groups})


PRIORS_JOB = "scoring.best_time_priors"
PRIORS_STAMP = "scoring:best-time:at"  # when the worker last computed the patterns; gone: time to again
PRIORS_ALL = "scoring:best-time:all"


def _prior_key(source: str, province: str) -> str:
    # A stable digest (hash() differs per process) keeps the key short and shared by every process.
    return "scoring:best-time:" + hashlib.sha1(f"{source}\n{province}".encode()).hexdigest()


def refresh_priors() -> None:
    """Every (source, province)'s pattern and everyone's, from a year of answered engagement in one pass: a worker
    job, as a page computing one took most of a second. The patterns outlive the stamp, so that pages go on
    reading the last ones while the next are computed."""
    now = clock.now()
    zone = training.local_zone()
    recent = _answered_engagement().filter(
        at__gte=now - timedelta(days=HISTORY_DAYS), at__lte=now, contact__merged_into__isnull=True
    )
    groups = (
        recent.annotate(weekday=ExtractIsoWeekDay("at", tzinfo=zone), hour=ExtractHour("at", tzinfo=zone))
        .values_list("contact__source", "contact__province", "weekday", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    patterns: dict[str, Histogram] = {PRIORS_ALL: Counter()}
    for source, province, weekday, hour, n in groups:
        patterns.setdefault(_prior_key(source, province), Counter())[(weekday, hour)] += n
        patterns[PRIORS_ALL][(weekday, hour)] += n
    cache.set_many(patterns, 2 * PRIORS_REFRESH_SECONDS)
    cache.set(PRIORS_STAMP, now, PRIORS_REFRESH_SECONDS)


def _prior(contact: Contact, now: datetime) -> tuple[Histogram, str]:
    """The pattern of similar leads (same source and province), else of all leads, as the worker last computed
    them (asked for here when they are due); none before the first computation."""
    key = _prior_key(contact.source, contact.province)
    found = cache.get_many([key, PRIORS_ALL, PRIORS_STAMP])
    if PRIORS_STAMP not in found:
        enqueue_many(PRIORS_JOB, [(f"{PRIORS_JOB}:{now:%Y-%m-%dT%H}", {}, now)])  # one per hour, however many ask
    similar = found.get(key, Counter())
    if sum(similar.values()) >= MIN_SIMILAR_EVENTS:
        return similar, "similar"
    return found.get(PRIORS_ALL, Counter()), "all"


def best_time_to_contact(contact: Contact) -> BestTime | None:
    """When this lead is likely to pick up: a weighted histogram of local weekday and hour.

    weight(day, hour) = the lead's own engagement events then + PRIOR_EVENTS x the share of similar leads'
    events then. The suggested hours are the best 2-hour window of the hour totals (not across midnight);
    a weekday is named only when it holds at least twice its fair share (2/7) of the weight and more than any
    other day. None when neither the lead nor anyone else has activity to go by.
    """
    now = clock.now()
    own = _histogram(_answered_engagement().filter(contact=contact, at__lte=now))
    prior, basis = _prior(contact, now)
    prior_total = sum(prior.values())
    weight: dict[tuple[int, int], float] = {}
    for slot, n in own.items():
        weight[slot] = weight.get(slot, 0.0) + n
    for slot, n in prior.items():
        weight[slot] = weight.get(slot, 0.0) + PRIOR_EVENTS * n / prior_total
    if not weight:
        return None
    by_hour, own_by_hour, by_day = [0.0] * 24, [0] * 24, dict.fromkeys(range(1, 8), 0.0)
    for (day, hour), w in weight.items():
        by_hour[hour] += w
        by_day[day] += w
    for (_day, hour), n in own.items():
        own_by_hour[hour] += n
    # A tie goes to the lead's own evidence, then to the earlier window.
    start = max(
        range(24 - WINDOW_HOURS + 1),
        key=lambda h: (sum(by_hour[h : h + WINDOW_HOURS]), sum(own_by_hour[h : h + WINDOW_HOURS]), -h),
    )
    first, second = sorted(by_day, key=lambda d: -by_day[d])[:2]
    stands_out = by_day[first] >= 2 / 7 * sum(by_day.values()) and by_day[first] > by_day[second]
    weekday = first if stands_out else None
    own_total = sum(own.values())
    alone = own_total >= PRIOR_EVENTS or not prior_total  # no pattern of others computed yet: the lead's own
    return BestTime(weekday, start, start + WINDOW_HOURS, "lead" if alone else basis)


def fallback_text() -> str:
    return _(
        "Predictive score not available yet (needs at least %(examples)d past leads with %(positives)d "
        "conversions); ranking by points score"
    ) % {"examples": MIN_EXAMPLES, "positives": MIN_POSITIVES}
