"""Tasks: the reminder and the overdue alert fall due as durable jobs; rotting deals are swept daily."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from nurture.accounts.models import User
from nurture.core import clock, jobs
from nurture.core.jobs import enqueue_daily_jobs, process_due_jobs
from nurture.core.models import Job
from nurture.notifications.models import Notification
from nurture.sales import actions
from nurture.sales.models import Deal, Pipeline, Task
from nurture.sales.tests.conftest import deal_for, lead, logged_in

pytestmark = [pytest.mark.django_db]


def run_jobs() -> None:
    while process_due_jobs():
        pass


def test_the_reminder_then_the_overdue_alert_reach_the_assignee(frozen: Any, alice: User, bob: User) -> None:
    # Given a call task for bob in five hours (in local time, as a form gives it), with a reminder 15 minutes before
    contact = lead(alice)
    due = timezone.localtime(clock.now() + timedelta(hours=5))
    task = actions.add_task(title="Gọi tư vấn", due_at=due, remind_at=due - timedelta(minutes=15), assignee=bob,
                            contact=contact, actor=alice)  # fmt: skip
    run_jobs()
    assert not Notification.objects.exists()

    # When the reminder time comes
    frozen.move_to(due - timedelta(minutes=15))
    run_jobs()

    # Then bob is reminded, once
    notice = Notification.objects.get()
    assert (notice.user, notice.kind, notice.contact) == (bob, "task", contact)
    assert notice.title.startswith("Reminder: Gọi tư vấn (Trần Thị Hương)")

    # When the due time passes with the task open / Then the overdue alert, and the task is marked notified
    frozen.move_to(due + timedelta(minutes=1))
    run_jobs()
    assert Notification.objects.count() == 2
    assert Notification.objects.order_by("-id").first().title.startswith("Overdue: Gọi tư vấn")  # type: ignore[union-attr]
    assert Task.objects.get(pk=task.pk).overdue_notified_at is not None


def test_a_done_task_cancels_its_timers(frozen: Any, alice: User) -> None:
    # Given a task with a reminder
    contact = lead(alice)
    due = clock.now() + timedelta(hours=2)
    task = actions.add_task(title="Gửi báo giá", kind="email", due_at=due, remind_at=due - timedelta(hours=1),
                            assignee=alice, contact=contact, actor=alice)  # fmt: skip
    assert Job.objects.filter(kind__startswith="sales.task", status="queued").count() == 2

    # When it is done before anything fell due
    actions.complete_task(task, actor=alice)

    # Then its timers are gone, nothing is ever sent, and the timeline says it was done
    assert not Job.objects.filter(kind__startswith="sales.task").exists()
    frozen.move_to(due + timedelta(hours=1))
    run_jobs()
    assert not Notification.objects.exists()
    assert contact.events.filter(type="task_done").get().data["title"] == "Gửi báo giá"


def test_a_rescheduled_reminder_sends_only_for_the_current_time(frozen: Any, alice: User) -> None:
    # Given a task whose reminder job is queued, then the task's due time changed behind it
    contact = lead(alice)
    due = clock.now() + timedelta(hours=2)
    task = actions.add_task(title="Họp", kind="meeting", due_at=due, remind_at=due - timedelta(hours=1),
                            assignee=alice, contact=contact, actor=alice)  # fmt: skip
    Task.objects.filter(pk=task.pk).update(remind_at=due + timedelta(days=1), due_at=due + timedelta(days=2))

    # When the old times pass / Then the stale timers do nothing
    frozen.move_to(due + timedelta(minutes=5))
    run_jobs()
    assert not Notification.objects.exists()


def test_bad_tasks_are_refused_naming_the_field(frozen: Any, alice: User) -> None:
    contact = lead(alice)
    due = clock.now() + timedelta(hours=1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": " "}, "title"), ({"kind": "fax"}, "kind"), ({"remind_at": due + timedelta(minutes=1)}, "remind_at"),
        ({"contact": None}, "contact_id"), ({"assignee": None}, "assignee_id"),
    ]  # fmt: skip
    for change, field in cases:
        fields: dict[str, Any] = {"title": "Gọi", "due_at": due, "assignee": alice, "contact": contact, **change}
        with pytest.raises(actions.SalesError) as refused:
            actions.add_task(**fields)
        assert refused.value.field == field
    assert not Task.objects.exists() and not Job.objects.filter(kind__startswith="sales").exists()


def test_rotting_deals_are_highlighted_and_their_owner_told_once(
    frozen: Any, alice: User, bob: User, charlie: User, manager: User, pipeline: Pipeline, monkeypatch: Any
) -> None:
    monkeypatch.setattr(jobs, "_SCHEDULED", {})  # this process may have queued today's sweep in another test
    # Given a deal in Consult (rots after 7 days), and bob's fresher one
    old = deal_for(alice, pipeline)
    frozen.move_to(clock.now() + timedelta(days=5))
    deal_for(bob, pipeline)

    # When 8 days have passed since the old one's last activity and the daily sweep runs
    frozen.move_to(clock.now() + timedelta(days=3))
    assert [d.pk for d in actions.rotting_deals(clock.now())] == [old.pk]
    enqueue_daily_jobs()
    frozen.move_to(clock.now().replace(hour=8, minute=0) + timedelta(days=1))
    run_jobs()

    # Then alice is told, once, however often the sweep runs
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["alice"]
    assert actions.notify_rotting() == 1 and Notification.objects.count() == 1

    # And the board and agenda flag it, the manager sees it under alice; charlie (another team) sees nothing
    board = logged_in(alice).get(f"/sales/pipelines/{pipeline.pk}/").content.decode()
    assert "deal-card rotting" in board and "Rotting: no activity since" in board
    assert old.title in logged_in(alice).get("/sales/agenda/").content.decode()
    overview = logged_in(manager).get("/sales/overdue/").content.decode()
    assert old.title in overview
    assert old.title not in logged_in(charlie).get("/sales/overdue/").content.decode()


def test_agenda_and_overdue_work_per_rep(frozen: Any, alice: User, bob: User, manager: User) -> None:
    # Given alice has one task today and one overdue, bob one overdue
    contact = lead(alice)
    now = clock.now()
    actions.add_task(title="Gọi hôm nay", due_at=now + timedelta(hours=3), assignee=alice, contact=contact)
    actions.add_task(title="Gọi hôm qua", due_at=now - timedelta(days=1), assignee=alice, contact=contact)
    actions.add_task(title="Bob trễ", due_at=now - timedelta(hours=1), assignee=bob, contact=contact)

    # When alice opens her agenda / Then today's and overdue are apart, bob's is not there
    agenda = logged_in(alice).get("/sales/agenda/").content.decode()
    today, overdue = (
        agenda.split('id="agenda-today"')[1],
        agenda.split('id="agenda-overdue"')[1].split("agenda-today")[0],
    )
    assert "Gọi hôm nay" in today and "Gọi hôm qua" in overdue and "Bob trễ" not in agenda

    # When the manager opens overdue work / Then per rep: alice 1, bob 1
    page = logged_in(manager).get("/sales/overdue/").content.decode()
    table = page.split('id="overdue-per-rep"')[1].split("</table>")[0]
    assert "<td>alice</td><td>1</td>" in table and "<td>bob</td><td>1</td>" in table
    assert Deal.objects.count() == 0


@pytest.fixture
def manager(team: Any) -> User:
    return User.objects.create_user(username="manager", password="pw-manager-1", role=User.Role.MANAGER)
