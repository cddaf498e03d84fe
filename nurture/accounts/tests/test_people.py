from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nurture.accounts import people
from nurture.accounts.models import User
from nurture.contacts.models import Contact
from nurture.lifecycle import stages

pytestmark = pytest.mark.django_db


def _contact(owner: User | None) -> Contact:
    now = timezone.now()
    return Contact.objects.create(
        full_name="Phạm Thị Lan", owner=owner, stage_id=stages.entry_stage_id(), created_at=now, updated_at=now,
        last_activity_at=now,
    )  # fmt: skip


def test_rows_get_their_users_from_the_held_ones_and_a_user_not_held_is_read() -> None:
    # Given contacts owned by an active rep, a disabled one and nobody
    lan = User.objects.create_user(username="lan", first_name="Lan", last_name="Phạm", role=User.Role.SALES_REP)
    gone = User.objects.create_user(username="gone", role=User.Role.SALES_REP, is_active=False)
    ids = [_contact(lan).pk, _contact(gone).pk, _contact(None).pk]
    people.active()  # the users are held from here on
    # When their rows get their owners, then no query is needed to name them, disabled users included
    rows = people.attach(Contact.objects.filter(pk__in=ids).order_by("pk"), "owner")
    with CaptureQueriesContext(connection) as queries:
        names = [row.owner.display_name if row.owner else None for row in rows]
    assert names == ["Lan Phạm", "gone", None] and len(queries) == 0
    # And the pickers still offer only the active users
    assert [p.username for p in people.active()] == ["lan"]
    # When a user is added and owns a contact, then the held users are rebuilt and name them too
    hoa = User.objects.create_user(username="hoa", first_name="Hoa", role=User.Role.SALES_REP)
    row = people.attach([Contact.objects.get(pk=_contact(hoa).pk)], "owner")[0]
    assert row.owner == hoa and row.owner.display_name == "Hoa"
