from __future__ import annotations

import uuid

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

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


def _token_reads(queries: CaptureQueriesContext) -> int:
    return sum(Revision._meta.db_table in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a page is served
def test_a_web_request_reads_the_tokens_once_and_again_after_its_own_change() -> None:
    SlaPolicy.objects.create(name="Nhanh", first_response_minutes=5)
    request_started.send(sender=None)
    try:
        # Given a request asking several snapshots, then the tokens are read once
        with CaptureQueriesContext(connection) as queries:
            assert _policies() == ["Nhanh"]
            assert _policies() == ["Nhanh"]
            revisions.snapshot("identity", lambda: "held")
        assert _token_reads(queries) == 1
        # When the request itself changes a watched model, then what it reads next shows the change
        SlaPolicy.objects.create(name="Chậm", first_response_minutes=60)
        assert _policies() == ["Nhanh", "Chậm"]
    finally:
        request_finished.send(sender=None)
    # Outside a request (a worker's loop), every call reads them
    with CaptureQueriesContext(connection) as queries:
        _policies()
        _policies()
    assert _token_reads(queries) == 2


@pytest.mark.django_db(transaction=True)
def test_a_request_s_transaction_uses_the_request_s_tokens_until_it_changes_one() -> None:
    SlaPolicy.objects.create(name="Nhanh", first_response_minutes=5)
    request_started.send(sender=None)
    try:
        # Given a request that read the tokens outside a transaction (an API key's check)
        assert _policies() == ["Nhanh"]
        # When its transaction asks snapshots, then the tokens are not read again
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            assert _policies() == ["Nhanh"]
        assert _token_reads(queries) == 0
        # When the transaction changes a watched model, then it sees its change, and once rolled back nobody does
        with pytest.raises(RuntimeError), transaction.atomic():
            SlaPolicy.objects.create(name="Chậm", first_response_minutes=60)
            assert _policies() == ["Nhanh", "Chậm"]
            raise RuntimeError("rolled back")
        assert _policies() == ["Nhanh"]
    finally:
        request_finished.send(sender=None)
