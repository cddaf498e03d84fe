"""The indexes each captured lead writes: only those some query reads (core.schema's migrations drop the rest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from nurture.accounts.models import User
from nurture.contacts.actions import capture_lead
from nurture.contacts.leads import parse_lead
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.core.models import Job
from nurture.notifications.models import Notification
from nurture.routing.models import Assignment, AssignmentRule

pytestmark = pytest.mark.django_db


def indexed_columns(table: str) -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {tuple(c["columns"]) for c in constraints.values() if c["index"] and not c["primary_key"]}


def test_a_lead_writes_no_index_that_no_query_reads() -> None:
    assert indexed_columns("routing_assignment") == {
        ("contact_id", "at"),
        ("user_id", "is_current", "first_response_at"),
        ("user_id", "at"),
    }
    assert not any("last_user_id" in columns for columns in indexed_columns("routing_assignmentrule"))
    assert indexed_columns("lifecycle_stagechange") == {("contact_id", "at"), ("to_stage_id",)}
    assert not any("actor_id" in columns for columns in indexed_columns("contacts_event"))


def test_job_and_notice_keys_stay_unique_without_a_pattern_index(admin_user: User) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename IN ('core_job', 'notifications_notification') "
                "AND indexdef LIKE '%%pattern_ops%%'"
            )
            assert cursor.fetchall() == []
    now = clock.now()
    Job.objects.create(kind="test", idempotency_key="k", due_at=now, created_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind="test", idempotency_key="k", due_at=now, created_at=now)
    Job.objects.create(kind="test", due_at=now, created_at=now)
    Job.objects.create(kind="test", due_at=now, created_at=now)  # keyless jobs repeat
    Notification.objects.create(user=admin_user, key="n", kind=Notification.Kind.NEW_LEAD, title="t", created_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            user=admin_user, key="n", kind=Notification.Kind.NEW_LEAD, title="t", created_at=now
        )
    assert enqueue_on_commit("test", {}, key="k", due_at=now + timedelta(hours=1)).due_at == now  # the first stands


def test_deleting_a_rule_or_a_rep_clears_them_from_assignments_without_their_indexes() -> None:
    now = clock.now()
    rep = User.objects.create_user(username="rep", role="sales_rep")
    rule = AssignmentRule.objects.create(name="r", last_user=rep, created_at=now, updated_at=now)
    contact_id = capture_lead(
        parse_lead({"full_name": "Lan", "phone": "0912345678"}), event_type="form_submitted"
    ).contact_id
    assignment = Assignment.objects.create(
        contact_id=contact_id,
        user=rep,
        previous_user=rep,
        actor=rep,
        escalated_to=rep,
        rule=rule,
        cause="manual",
        at=now,
    )
    rule.delete()
    rep.delete()
    assignment.refresh_from_db()
    cleared = (assignment.rule_id, assignment.user_id, assignment.previous_user_id, assignment.escalated_to_id)
    assert cleared == (None, None, None, None)
