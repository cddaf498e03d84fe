"""Leads posted together are captured together: one transaction for the batch, each request its own answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from nurture.capture import combining
from nurture.contacts import actions
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event

pytestmark = pytest.mark.django_db(transaction=True)
OPTIONS = {"event_type": Event.Type.API_CAPTURED, "source_label": "api:web"}


def _post_together(leads: list[Any]) -> list[Any]:
    """Each lead from its own thread while this one holds the capture turn, so that all are queued at once."""
    answers: list[Any] = [None] * len(leads)

    def post(i: int) -> None:
        try:
            answers[i] = combining.capture(leads[i], **OPTIONS)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each request got
            answers[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(leads))]
    with combining._turn:
        for t in threads:
            t.start()
        while len(combining._queue) < len(leads):
            time.sleep(0.01)
    for t in threads:
        t.join(timeout=30)
    return answers


def test_leads_queued_together_are_captured_in_one_transaction() -> None:
    # Given five leads posted at once, two of them the same person
    rows = [{"full_name": f"Khách {i}", "phone": f"090200000{i}", "province": "Huế"} for i in range(4)]
    rows.append({"full_name": "Khách 0", "phone": "0902000000", "email": "khach0@example.vn"})

    # When they are captured
    answers = _post_together([parse_lead(r) for r in rows])

    # Then each request has its own answer, the repeat landing on the first one's contact
    assert [a.created for a in answers] == [True, True, True, True, False]
    assert answers[4].contact_id == answers[0].contact_id
    assert answers[4].updated_fields == ["email"]
    assert Contact.objects.count() == 4
    # and one capture wrote them all (one clock reading per transaction)
    assert len(set(Event.objects.values_list("at", flat=True))) == 1


def test_a_lead_that_cannot_be_saved_fails_only_its_own_request() -> None:
    # Given three leads, one of which carries a value the database cannot store
    leads = [parse_lead({"full_name": f"Người {i}", "phone": f"090300000{i}"}) for i in range(3)]
    leads[1].custom_fields = {"ghi_chu": {1, 2}}  # not JSON: only a bug could put it there

    # When they are captured together
    answers = _post_together(leads)

    # Then the other two are saved and answered, and the bad one's request gets the error
    assert isinstance(answers[1], TypeError)
    assert answers[0].created and answers[2].created
    assert sorted(Contact.objects.values_list("full_name", flat=True)) == ["Người 0", "Người 2"]


def test_a_lead_alone_that_loses_a_race_for_its_phone_lands_on_the_winner(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a known contact, and a capture that does not see its phone at first (as when a parallel capture
    # commits it meanwhile)
    first = combining.capture(parse_lead({"full_name": "Lý Văn Bình", "phone": "0904000001"}), **OPTIONS)
    looked_up = actions._existing_identities
    calls: list[int] = []

    def late(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        calls.append(1)
        return {} if len(calls) == 1 else looked_up(keys)

    monkeypatch.setattr(actions, "_existing_identities", late)
    # When the same person is captured alone, then the insert that collides is tried again and finds them
    again = _post_together([parse_lead({"full_name": "Lý Văn Bình", "phone": "0904000001", "need": "Học thử"})])[0]
    assert not isinstance(again, Exception) and again.contact_id == first.contact_id and len(calls) == 2
    assert Contact.objects.count() == 1 and Contact.objects.get().need == "Học thử"
