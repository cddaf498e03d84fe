from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from nurture.core import revisions
from nurture.core.models import Revision
from nurture.routing.models import SlaPolicy

pytestmark = pytest.mark.django_db


def _policies() -> list[str]:
    return revisions.snapshot("routing", lambda: [p.name for p in SlaPolicy.objects.order_by("pk")])


def test_a_snapshot_is_held_until_a_watched_model_changes() -> None:
    # Given a snapshot built once
    SlaPolicy.objects.create(name="Nhanh", first_response_minutes=5)
    assert _policies() == ["Nhanh"]
    built = []

    def build() -> list[str]:
        built.append(1)
        return [p.name for p in SlaPolicy.objects.order_by("pk")]

    # When nothing changes, then it is not built again
    revisions.snapshot("routing", build)
    assert built == []
    # When a watched model is saved, then the next read rebuilds it
    SlaPolicy.objects.create(name="Chậm", first_response_minutes=60)
    assert revisions.snapshot("routing", build) == ["Nhanh", "Chậm"]
    assert built == [1]


def test_another_process_change_is_seen_and_a_rolled_back_one_is_not_kept() -> None:
    # Given a held snapshot
    SlaPolicy.objects.create(name="Nhanh", first_response_minutes=5)
    assert _policies() == ["Nhanh"]
    # When another process changes the data and the token (here: without signals)
    SlaPolicy.objects.filter(name="Nhanh").update(name="Nhanh hơn")
    Revision.objects.filter(name="routing").update(token=uuid.uuid4())
    # Then the change is read in the next transaction
    connection.nurture_revisions = None  # type: ignore[attr-defined]  # as a new transaction starts (the test is one)
    assert _policies() == ["Nhanh hơn"]
    # When a change is rolled back after a snapshot was built from it
    with pytest.raises(RuntimeError), transaction.atomic():
        SlaPolicy.objects.create(name="Tạm", first_response_minutes=9)
        assert _policies() == ["Nhanh hơn", "Tạm"]
        raise RuntimeError
    # Then the snapshot built inside it is not used afterwards
    assert _policies() == ["Nhanh hơn"]


def test_without_a_token_nothing_is_held() -> None:
    Revision.objects.filter(name="routing").delete()
    assert _policies() == []
    SlaPolicy.objects.bulk_create([SlaPolicy(name="Không tín hiệu", first_response_minutes=5)])  # no signal
    assert _policies() == ["Không tín hiệu"]
