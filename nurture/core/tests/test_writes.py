from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nurture.accounts.models import User
from nurture.contacts.models import Contact, Identity
from nurture.core.writes import bulk_update, insert
from nurture.lifecycle import stages
from nurture.routing.models import Assignment, SlaPolicy

pytestmark = pytest.mark.django_db


def test_one_row_is_a_plain_update_and_several_one_bulk_update() -> None:
    # Given three policies
    a, b, c = (SlaPolicy.objects.create(name=n, first_response_minutes=5) for n in ("A", "B", "C"))
    # When one is changed, then one UPDATE without CASE writes only the named field
    a.name, a.first_response_minutes = "A2", 9
    with CaptureQueriesContext(connection) as one:
        bulk_update([a], ["name"])
    assert len(one) == 1 and "CASE" not in one[0]["sql"]
    # When two are changed, then one statement writes both
    b.name, c.name = "B2", "C2"
    with CaptureQueriesContext(connection) as two:
        bulk_update([b, c], ["name"])
    assert len(two) == 1
    assert list(SlaPolicy.objects.order_by("pk").values_list("name", "first_response_minutes")) == [
        ("A2", 5), ("B2", 5), ("C2", 5),
    ]  # fmt: skip
    # When nothing is given, then nothing is written; a field that is not a column is refused
    with CaptureQueriesContext(connection) as none:
        bulk_update([], ["name"])
    assert len(none) == 0
    with pytest.raises(ValueError):
        bulk_update([a], ["nme"])


def test_several_rows_of_every_type_are_updated_from_one_values_list(alice: User, bob: User) -> None:
    # Given two assignments, one with an owner and no deadline, one in the queue with one
    at = timezone.now().replace(microsecond=0)
    contact = _contact("Lê Văn Tám", at)
    a = Assignment.objects.create(contact=contact, user=alice, cause="capture", at=at, reason={"rule": "A"})
    b = Assignment.objects.create(contact=contact, user=None, cause="capture", at=at, due_at=at, is_current=False)
    # When the owner, the deadline, the flag and the reason are swapped between them in one statement
    a.user, a.due_at, a.is_current, a.reason = None, at + timedelta(minutes=5), False, {"rule": "Tết", "n": [1, 2]}
    b.user, b.due_at, b.is_current, b.reason = bob, None, True, {}
    with CaptureQueriesContext(connection) as queries:
        bulk_update([a, b], ["user", "due_at", "is_current", "reason"])
    # Then each row holds its own values, typed as they were (a null where a value was, and back)
    assert len(queries) == 1 and "CASE" not in queries[0]["sql"]
    rows = Assignment.objects.order_by("pk").values_list("user_id", "due_at", "is_current", "reason")
    assert list(rows) == [
        (None, at + timedelta(minutes=5), False, {"rule": "Tết", "n": [1, 2]}),
        (bob.pk, None, True, {}),
    ]


def test_insert_gives_the_rows_their_keys_and_skips_conflicts_when_asked(alice: User) -> None:
    # Given three new identities of one contact, with an accented value and a timestamp
    at = timezone.now().replace(microsecond=0)
    contact = _contact("Trần Thị Hoa", at)
    rows = [Identity(contact=contact, kind="email", value=f"hoa{i}@ví-dụ.vn", source="api", created_at=at)
            for i in range(3)]  # fmt: skip
    # When they are inserted
    with CaptureQueriesContext(connection) as queries:
        insert(rows)
    # Then one statement wrote them, each object has its row's key and is no longer new
    assert len(queries) == 1
    stored = dict(Identity.objects.filter(contact=contact).values_list("pk", "value"))
    assert {r.pk: r.value for r in rows} == stored and not any(r._state.adding for r in rows)
    assert Identity.objects.get(pk=rows[0].pk).created_at == at
    # When one of them is inserted again beside a new one, with conflicts ignored
    again = [Identity(contact=contact, kind="email", value="hoa0@ví-dụ.vn", source="form", created_at=at),
             Identity(contact=contact, kind="phone", value="+84912345678", source="form", created_at=at)]  # fmt: skip
    insert(again, ignore_conflicts=True)
    # Then the new one is added and the known one keeps its first row
    assert Identity.objects.filter(contact=contact).count() == 4
    assert Identity.objects.get(value="hoa0@ví-dụ.vn").source == "api"
    # And without it, the conflict is an error, and nothing of that statement is written
    with pytest.raises(IntegrityError), transaction.atomic():
        insert([Identity(contact=contact, kind="zalo", value="z1", created_at=at),
                Identity(contact=contact, kind="email", value="hoa1@ví-dụ.vn", created_at=at)])  # fmt: skip
    assert not Identity.objects.filter(value="z1").exists()


def _contact(name: str, at: datetime) -> Contact:
    return Contact.objects.create(
        full_name=name, stage_id=stages.entry_stage_id(), created_at=at, updated_at=at, last_activity_at=at
    )
