"""Predictive scoring from the CRM's own history: labels, no leakage, training, predictions, best time, UI, API."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from nurture import cli
from nurture.accounts.actions import create_api_key
from nurture.accounts.models import User
from nurture.contacts.models import Contact, Event
from nurture.core.jobs import enqueue_on_commit, process_due_jobs
from nurture.core.models import Job
from nurture.lifecycle.models import Stage, StageChange, StageSet
from nurture.scoring import jobs, predict, prediction, training
from nurture.scoring.models import ModelVersion, Prediction, TrainingRun
from nurture.scoring.predict import NotEnoughHistory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # noon in Hồ Chí Minh City
EN = {"Accept-Language": "en"}
Stages = dict[str, Stage]


@pytest.fixture(autouse=True)
def _frozen_clock_and_model_files(settings: Settings, tmp_path: Path) -> Iterator[None]:
    settings.NURTURE_MODELS_DIR = tmp_path / "models"
    settings.NURTURE_SCORING_LOST_AFTER_DAYS = 90
    prediction._load.cache_clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stages(db: Any) -> Stages:
    stage_set = StageSet.objects.create(key="sales", name_en="Sales", name_vi="Bán hàng", is_active=True)
    return {
        key: Stage.objects.create(stage_set=stage_set, key=key, name_en=key, name_vi=key, position=i, outcome=outcome)
        for i, (key, outcome) in enumerate([("lead", "open"), ("customer", "won"), ("lost", "lost")])
    }


def lead(stages: Stages, created: datetime, **fields: Any) -> Contact:
    contact = Contact.objects.create(
        stage=stages["lead"], created_at=created, updated_at=created, last_activity_at=created, **fields
    )
    StageChange.objects.create(contact=contact, to_stage=stages["lead"], cause="capture", at=created)
    return contact


def move(contact: Contact, stage: Stage, at: datetime, cause: str = "user") -> None:
    StageChange.objects.create(contact=contact, from_stage=contact.stage, to_stage=stage, cause=cause, at=at)
    Event.objects.create(contact=contact, type="stage_changed", at=at)
    contact.stage = stage
    contact.last_activity_at = max(contact.last_activity_at, at)
    contact.save()


def events(contact: Contact, kind: str, *moments: datetime) -> None:
    Event.objects.bulk_create(Event(contact=contact, type=kind, at=at) for at in moments)
    Contact.objects.filter(pk=contact.pk).update(last_activity_at=max(contact.last_activity_at, *moments))
    contact.refresh_from_db()


def history(stages: Stages, n: int = 300, seed: int = 7) -> list[Contact]:
    """Past leads where referrals buy far more often (60% against 8%) and buyers open a few more emails."""
    rng = random.Random(seed)
    contacts = Contact.objects.bulk_create(
        Contact(full_name=f"Lead {i}", stage=stages["lead"], source=source, province=rng.choice(["Hà Nội", "Huế"]),
                email=f"lead{i}@gmail.com", created_at=created, updated_at=created, last_activity_at=created)
        for i in range(n)
        for source in [rng.choices(["facebook", "google", "zalo", "referral"], weights=[40, 25, 20, 15])[0]]
        for created in [NOW - timedelta(days=rng.randint(130, 400), hours=rng.randint(0, 23))]
    )  # fmt: skip
    changes, timeline = [], []
    for c in contacts:
        converts = rng.random() < (0.6 if c.source == "referral" else 0.08)
        opened = rng.randint(1, 4) if converts else rng.randint(0, 2)
        timeline += [
            Event(contact=c, type="email_opened", at=c.created_at + timedelta(days=d + 1)) for d in range(opened)
        ]
        changes.append(StageChange(contact=c, to_stage=stages["lead"], cause="capture", at=c.created_at))
        outcome = "customer" if converts else rng.choice(["lost", None])  # None: left inactive, lost by time
        c.last_activity_at = c.created_at + timedelta(days=opened + 1)
        if outcome:
            c.stage = stages[outcome]
            c.last_activity_at = c.created_at + timedelta(days=20)
            changes.append(StageChange(contact=c, from_stage=stages["lead"], to_stage=c.stage, cause="user",
                                       at=c.last_activity_at))  # fmt: skip
    StageChange.objects.bulk_create(changes)
    Event.objects.bulk_create(timeline)
    Contact.objects.bulk_update(contacts, ["stage", "last_activity_at"])
    return contacts


# --- labels and leakage ---------------------------------------------------------------------------


def test_labels_won_lost_inactive_and_open_excluded(stages: Stages) -> None:
    # Given leads with every kind of outcome
    t0 = NOW - timedelta(days=300)
    won = lead(stages, t0)
    move(won, stages["customer"], t0 + timedelta(days=10))
    lost = lead(stages, t0)
    move(lost, stages["lost"], t0 + timedelta(days=5))
    came_back = lead(stages, t0)
    move(came_back, stages["lost"], t0 + timedelta(days=5))
    move(came_back, stages["lead"], t0 + timedelta(days=40))
    move(came_back, stages["customer"], t0 + timedelta(days=50))
    inactive = lead(stages, NOW - timedelta(days=200))
    events(inactive, "page_viewed", NOW - timedelta(days=150))
    recent = lead(stages, NOW - timedelta(days=200))
    events(recent, "page_viewed", NOW - timedelta(days=30))
    imported_customer = lead(stages, t0)
    move(imported_customer, stages["customer"], t0)
    switched = lead(stages, t0)
    move(switched, stages["customer"], t0 + timedelta(days=3), cause=StageChange.Cause.SWITCH)
    survivor = lead(stages, t0)
    tombstone = lead(stages, t0, merged_into=survivor)
    move(tombstone, stages["customer"], t0 + timedelta(days=10))

    # When the examples are labelled and described
    found = {e.contact_id: (e.converted, e.cutoff, e.reason) for e in training.examples()}
    table = training.training_set()
    rows = {e.contact_id: row for e, row in zip(table.examples, table.rows, strict=True)}

    # Then only decided leads are examples, each cut at its outcome
    assert found == {
        won.pk: (True, t0 + timedelta(days=10), "won"),
        lost.pk: (False, t0 + timedelta(days=5), "lost"),
        came_back.pk: (True, t0 + timedelta(days=50), "won"),
        inactive.pk: (False, NOW - timedelta(days=60), "inactive"),
        survivor.pk: (False, t0 + timedelta(days=90), "inactive"),
    }
    assert (rows[inactive.pk]["n_page_viewed"], rows[inactive.pk]["days_to_first"]) == (1.0, 50.0)
    assert (rows[survivor.pk]["n_events"], rows[survivor.pk]["days_to_first"]) == (0.0, None)


def test_events_and_edits_after_the_outcome_change_nothing(stages: Stages) -> None:
    # Given two leads identical until they bought; the second then kept clicking and was edited by sales
    t0 = NOW - timedelta(days=100)
    twins = []
    for name in ("a", "b"):
        c = lead(stages, t0, full_name=name, source="google", province="Huế", job_title="Kế toán",
                 email=f"{name}@congty.vn", custom_fields={"budget": "50tr"})  # fmt: skip
        events(c, "page_viewed", t0 + timedelta(hours=2), t0 + timedelta(days=1, hours=3))
        events(c, "email_opened", t0 + timedelta(days=2))
        move(c, stages["customer"], t0 + timedelta(days=3))
        twins.append(c)
    a, b = twins
    after = t0 + timedelta(days=3, seconds=1)
    events(b, "page_viewed", after, after + timedelta(days=1))
    events(b, "email_opened", after + timedelta(hours=5))
    events(b, "contract_signed", after + timedelta(days=2))  # a type only ever seen after an outcome
    events(b, "email_opened", t0 - timedelta(days=1))  # back-dated before it was created
    Contact.objects.filter(pk=b.pk).update(job_title="Giám đốc", custom_fields={"budget": "500tr"})
    Event.objects.create(contact=b, type="updated", at=after + timedelta(days=3), data={
        "changes": {"job_title": ["Kế toán", "Giám đốc"], "custom_fields": [{"budget": "50tr"}, {"budget": "500tr"}]}
    })  # fmt: skip

    # When the training table is built
    table = training.training_set()
    rows = {e.contact_id: row for e, row in zip(table.examples, table.rows, strict=True)}

    # Then both rows are exactly the same, and not empty
    assert rows[a.pk] == rows[b.pk]
    assert table.spec.event_types == ("email_opened", "page_viewed")
    assert table.spec.custom_fields == ("budget",)
    assert rows[a.pk] == {
        "source": "google", "medium": None, "campaign": None, "province": "Huế", "industry": None,
        "job_title": "kế toán", "gender": None, "email_kind": "company", "has_phone": 0.0, "has_company": 0.0,
        "custom.budget": "50tr", "n_email_opened": 1.0, "n_page_viewed": 2.0, "n_events": 3.0,
        "active_days": 3.0, "days_to_first": pytest.approx(2 / 24), "engagement_hour": 12.0, training.LABEL: 1.0,
    }  # fmt: skip


# --- training --------------------------------------------------------------------------------------


def test_not_enough_history_keeps_the_active_model_and_the_cli_fails(
    stages: Stages, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an active model and only a handful of decided leads
    previous = ModelVersion.objects.create(trained_at=NOW - timedelta(days=1), is_active=True, artefact="old.joblib")
    for i in range(5):
        c = lead(stages, NOW - timedelta(days=200), full_name=f"L{i}")
        move(c, stages["customer" if i % 2 else "lost"], NOW - timedelta(days=190))

    # When training is asked for by the action, the CLI and the daily job
    with pytest.raises(NotEnoughHistory, match="need at least 200 past leads with 20 conversions"):
        prediction.train_model()
    monkeypatch.setattr(sys, "argv", ["nurture", "train-scoring"])
    # The command closes every connection when it ends and would set Django up again (logging to this test's
    # captured stderr): the test's transaction must outlive it, and later tests keep their logging.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    monkeypatch.setattr("django.setup", lambda *args, **kwargs: None)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    job = enqueue_on_commit("scoring.retrain", {"day": "2026-06-01"})
    jobs.run_retrain(job)

    # Then the CLI said why and exited non-zero, the daily run failed the same way, the old model is active
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Not enough history to train a model: need at least 200 past leads" in err
    assert "have 5 leads, 2 converted, 3 not" in err
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED and "need at least 200 past leads" in run.error
    assert list(ModelVersion.objects.values_list("pk", "is_active")) == [(previous.pk, True)]
    assert not Prediction.objects.exists()


def test_a_full_training_learns_which_source_converts(stages: Stages, admin_user: User) -> None:
    # Given a year of past leads, an older model and two open leads, a referral and a facebook lead
    past = history(stages)
    older = ModelVersion.objects.create(trained_at=NOW - timedelta(days=1), is_active=True)
    fresh = NOW - timedelta(days=3)
    referral = lead(stages, fresh, source="referral", province="Hà Nội", email="r@gmail.com")
    facebook = lead(stages, fresh, source="facebook", province="Hà Nội", email="f@gmail.com")
    for c in (referral, facebook):
        events(c, "email_opened", fresh + timedelta(days=1))

    # When a model is trained
    version = prediction.train_model(actor=admin_user)

    # Then it is the one active version, honest figures are stored, and the open leads are predicted
    positives = sum(c.stage_id == stages["customer"].pk for c in past)
    assert (version.examples, version.positives, version.trained_by) == (300, positives, admin_user)
    assert version.metrics["auc"] > 0.7 and 0 < version.metrics["brier"] < 0.25 and version.metrics["lift"] > 1.5
    assert list(ModelVersion.objects.filter(is_active=True)) == [version] == [prediction.active_model()]
    assert not ModelVersion.objects.get(pk=older.pk).is_active
    assert (prediction.models_dir() / version.artefact).exists()
    assert {c["name"] for c in version.features["columns"]} >= {"source", "n_email_opened", "email_kind"}
    predicted = {p.contact_id: p for p in Prediction.objects.all()}
    # Every lead still in an open stage (the fresh two and the past ones lost only by inactivity), no other
    assert set(predicted) == {c.pk for c in past if c.stage_id == stages["lead"].pk} | {referral.pk, facebook.pk}
    assert predicted[referral.pk].probability > predicted[facebook.pk].probability + 0.2
    factor = next(f for f in predicted[referral.pk].factors if f["column"] == "source")
    assert factor["value"] == "referral" and factor["delta"] > 5
    assert prediction.describe("source", "referral") == "Came from referral"


def test_the_active_model_is_held_until_a_version_is_saved() -> None:
    # Given an install that never trained a model, then asking again reads no version
    assert prediction.active_model() is None
    with CaptureQueriesContext(connection) as again:
        assert prediction.active_model() is None
    assert not [q for q in again.captured_queries if ModelVersion._meta.db_table in q["sql"]]
    # When a version is activated, then it is the one asked for next
    version = ModelVersion.objects.create(trained_at=NOW, is_active=True)
    assert prediction.active_model() == version


# --- best time to contact ---------------------------------------------------------------------------


def test_best_time_follows_the_leads_own_evenings_over_similar_leads_mornings(stages: Stages) -> None:
    # Given similar leads who open emails at 09:00 and a lead who opens them at 20:00 (local time)
    for i in range(8):
        other = lead(stages, NOW - timedelta(days=60), full_name=f"O{i}", source="zalo", province="Huế")
        events(other, "email_opened", *(NOW - timedelta(days=d, hours=3) for d in range(1, 6)))  # 09:00 local
    evening = lead(stages, NOW - timedelta(days=60), source="zalo", province="Huế")
    events(evening, "email_opened", *(NOW - timedelta(days=d) + timedelta(hours=8) for d in range(1, 6)))
    newcomer = lead(stages, NOW - timedelta(days=1), source="zalo", province="Huế")

    # When the best times are asked for: the first asking has the worker compute the similar leads' patterns
    before = prediction.best_time_to_contact(newcomer)
    process_due_jobs()
    own, similar = prediction.best_time_to_contact(evening), prediction.best_time_to_contact(newcomer)

    # Then the newcomer had no suggestion until the patterns existed (none of its own)
    assert before is None and Job.objects.get(kind=prediction.PRIORS_JOB).status == Job.Status.DONE
    # and the evening lead is called in the evening, on its own evidence; the newcomer like its peers
    assert own is not None and own.basis == "lead" and own.start_hour <= 20 < own.end_hour
    assert similar is not None and similar.basis == "similar" and similar.start_hour <= 9 < similar.end_hour
    assert own.hours == f"{own.start_hour:02d}:00–{own.end_hour:02d}:00"


# --- the contact page, the models page and the API ----------------------------------------------------


def install_small_model(stages: Stages) -> ModelVersion:
    """A model trained straight from rows (no database history): the page and API tests need one, fast."""
    rng = random.Random(3)
    rows: list[predict.Row] = []
    for _ in range(300):
        source = rng.choices(["referral", "facebook", "google"], weights=[20, 40, 40])[0]
        opened = rng.randint(0, 4)
        converted = rng.random() < (0.6 if source == "referral" else 0.1) + 0.05 * opened
        rows.append({"source": source, "n_email_opened": float(opened), "y": "1" if converted else "0"})
    columns = predict.infer_columns(rows, exclude=["y"])
    model = predict.train(rows, lambda r: r["y"] == "1", columns, evaluate_folds=0)
    spec = training.FeatureSpec(event_types=("email_opened",), custom_fields=(), lost_after_days=90,
                                columns=tuple(model.columns))  # fmt: skip
    version = ModelVersion.objects.create(
        trained_at=NOW, is_active=True, examples=300, positives=80, features=spec.as_json(),
        metrics={"auc": 0.8, "brier": 0.15, "lift": 2.0},
    )  # fmt: skip
    version.artefact = f"model-{version.pk}.joblib"
    version.save()
    prediction.models_dir().mkdir(parents=True, exist_ok=True)
    predict.save(model, prediction.models_dir() / version.artefact)
    return version


def test_contact_pages_show_the_fallback_then_the_chance_to_buy(admin_client: Client, stages: Stages) -> None:
    # Given an open referral lead who opened emails in the evening, and no model yet
    contact = lead(stages, NOW - timedelta(days=5), full_name="Trần Thị Mai", source="referral", score=35)
    events(contact, "email_opened", *(NOW - timedelta(days=d) + timedelta(hours=8) for d in range(1, 4)))

    # When its pages are shown without a model, then with one
    before = admin_client.get(f"/contacts/{contact.pk}/", headers=EN).content.decode()
    version = install_small_model(stages)
    detail = admin_client.get(f"/contacts/{contact.pk}/", headers=EN).content.decode()
    why = admin_client.get(f"/contacts/{contact.pk}/score", headers=EN).content.decode()

    # Then the fallback says so; with a model the chance to buy, its factors and the best time are shown
    assert (
        "Predictive score not available yet (needs at least 200 past leads with 20 conversions); "
        "ranking by points score" in before
    )
    stored = Prediction.objects.get(contact=contact)
    assert stored.model_version == version
    for page in (detail, why):
        assert f"Chance to buy: {round(100 * stored.probability)}%" in page
        assert "Came from referral: +" in page and "points of probability" in page
        assert "Best time to contact:" in page and "19:00–21:00" in page


def test_models_page_trains_in_the_background_and_shows_why_it_could_not(
    admin_client: Client, alice: User, stages: Stages
) -> None:
    # Given a database with too little history
    lead(stages, NOW - timedelta(days=3))

    # When an admin presses "Train now" and the worker runs the job
    listing = admin_client.get("/scoring/models/", headers=EN).content.decode()
    response = admin_client.post("/scoring/models/train", headers=EN)
    admin_client.post("/scoring/models/train", headers=EN)  # a double click
    run = TrainingRun.objects.get()
    assert Job.objects.filter(kind="scoring.train", payload={"run_id": run.pk}).count() == 1
    process_due_jobs()
    after = admin_client.get("/scoring/models/", headers=EN).content.decode()
    rep = Client()
    rep.force_login(alice)

    # Then the page shows the clear reason, nothing was activated, and reps may not train
    assert "No model trained yet." in listing and "Train now" in listing
    assert response.status_code == 302 and response["Location"] == "/scoring/models/"
    assert "Failed" in after and "need at least 200 past leads with 20 conversions" in after
    assert not ModelVersion.objects.exists()
    assert "/scoring/models/" in admin_client.get("/scoring/", headers=EN).content.decode()
    assert rep.get("/scoring/models/").status_code == 403
    assert rep.post("/scoring/models/train").status_code == 403
    assert TrainingRun.objects.count() == 1


def test_api_prediction_models_and_training(admin_user: User, stages: Stages) -> None:
    # Given an API key, an open lead, a won customer, and an active model
    _key, raw = create_api_key(name="p", scopes=["contacts:read", "scoring:write"], created_by=admin_user)
    api = Client(headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})
    contact = lead(stages, NOW - timedelta(days=5), source="facebook", score=12)
    events(contact, "email_opened", NOW - timedelta(days=1))
    customer = lead(stages, NOW - timedelta(days=50))
    move(customer, stages["customer"], NOW - timedelta(days=2))
    fallback = api.get(f"/api/v1/contacts/{contact.pk}/prediction").json()
    version = install_small_model(stages)

    # When the API is asked
    found = api.get(f"/api/v1/contacts/{contact.pk}/prediction").json()
    decided = api.get(f"/api/v1/contacts/{customer.pk}/prediction").json()
    models = api.get("/api/v1/scoring/models").json()
    started = api.post("/api/v1/scoring/models/train")
    process_due_jobs()
    run = api.get(f"/api/v1/scoring/models/runs/{started.json()['id']}").json()

    # Then it answers with the chance, the factors and the fallback flag as they apply
    assert (fallback["fallback"], fallback["probability"], fallback["points_score"]) == (True, None, 12)
    stored = Prediction.objects.get(contact=contact)
    assert found["probability"] == stored.probability and found["model_version"] == version.pk
    assert (found["fallback"], found["decided"], found["points_score"]) == (False, False, 12)
    assert found["factors"] == [{**f, "text": prediction.describe(f["column"], f["value"])} for f in stored.factors]
    # (its one event alone until the worker has computed the others' patterns, which the first asking queued)
    assert found["best_time"]["basis"] == "lead"
    assert api.get(f"/api/v1/contacts/{contact.pk}/prediction").json()["best_time"]["basis"] == "all"
    assert (decided["decided"], decided["probability"], decided["fallback"]) == (True, None, False)
    assert [(m["id"], m["is_active"], m["metrics"]["auc"]) for m in models] == [(version.pk, True, 0.8)]
    assert started.status_code == 202 and started.json()["status"] == "queued"
    assert run["status"] == "failed" and "need at least 200 past leads" in run["error"]
    assert ModelVersion.objects.get().is_active  # the failed training left the model in place
