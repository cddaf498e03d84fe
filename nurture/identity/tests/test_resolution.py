"""Matching inside capture, merges with survivorship, unmerge, and the batch clean-up."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.accounts.models import User
from nurture.contacts.actions import add_note, capture_leads, update_contact
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Consent, Contact, Event, Identity, Note
from nurture.identity import batch
from nurture.identity.actions import MergeError, mark_not_same, merge_contacts, merge_pair, open_pairs, unmerge
from nurture.identity.candidates import contact_records, lead_record
from nurture.identity.matching import Record, blocking_keys
from nurture.identity.models import DedupeRun, DuplicatePair, MatchKey, MatchSettings, Merge
from nurture.lifecycle.models import StageChange

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):  # the messages asserted on
        yield


def capture(**fields: Any) -> Contact:
    result = capture_leads([parse_lead(fields)], event_type=Event.Type.API_CAPTURED, source_label="api")[0]
    return Contact.objects.get(pk=result.contact_id)


def test_phone_written_another_way_lands_on_the_same_contact() -> None:
    first = capture(full_name="Nguyễn Văn Hùng", phone="0912 345 678")
    again = capture(full_name="Nguyen Van Hung", phone="+84912345678")
    old_number = capture(full_name="Trần Thị Lan", phone="0168 123 4567")
    renumbered = capture(full_name="Tran Thi Lan", phone="038 123 4567")
    assert again.pk == first.pk and renumbered.pk == old_number.pk


def test_fuzzy_match_merges_a_hotline_entry_with_a_typed_name() -> None:
    # A form lead with phone and email, then the same person from another channel with only a
    # different email and a name written given-name first plus the same birth date and address
    lead = capture(full_name="Phạm Thu Thảo", email="thao.pham@example.vn", birth_date="12/03/1991",
                   address="68 Phan Đình Phùng, Phường 12", province="Đà Nẵng")  # fmt: skip
    other = capture(full_name="Thao Pham Thu", email="thaopham91@gmail.com", birth_date="1991-03-12",
                    address="68 Phan Dinh Phung, P12", province="Da Nang")  # fmt: skip
    assert other.pk == lead.pk
    assert Identity.objects.filter(contact=lead, kind="email").count() == 2


def test_a_common_name_alone_never_merges() -> None:
    a = capture(full_name="Nguyễn Văn Hùng", phone="0912000001", province="Hà Nội")
    b = capture(full_name="Nguyễn Văn Hùng", phone="0988000002", province="Hà Nội")
    assert a.pk != b.pk


def test_a_lead_without_external_ids_has_no_external_keys() -> None:
    # An empty Zalo or Facebook id is no id: it once gave every new lead the same "zalo:" key and lock.
    record = lead_record([parse_lead({"full_name": "Phan An", "phone": "0912345678", "zalo_id": ""})])
    assert record.external_ids == frozenset()
    assert not [key for key in blocking_keys(record) if key.startswith("x:")]
    with_zalo = lead_record([parse_lead({"full_name": "Phan An", "zalo_id": "8812"})])
    assert with_zalo.external_ids == frozenset({"zalo:8812"})


def test_parent_and_child_on_one_phone_are_two_people() -> None:
    parent = capture(full_name="Lê Văn Minh", phone="0903 111 222")
    child = capture(full_name="Lê Thị Ngọc Anh", phone="0903111222", email="ngocanh@example.vn")
    assert parent.pk != child.pk
    assert child.phone == "+84903111222"
    # The phone stays the parent's identity; the child keeps it as a contact point.
    assert Identity.objects.get(kind="phone", value="+84903111222").contact_id == parent.pk
    # In one batch too
    results = capture_leads(
        [parse_lead({"full_name": "Hồ Văn Nam", "phone": "0977000111"}),
         parse_lead({"full_name": "Hồ Thị Mai", "phone": "0977 000 111"})],
        event_type=Event.Type.IMPORTED,
    )  # fmt: skip
    assert results[0].contact_id != results[1].contact_id


def test_grey_zone_becomes_a_possible_duplicate() -> None:
    a = capture(full_name="Đỗ Minh Khoa", email="khoa.do@abc.vn")
    b = capture(full_name="Do Minh Khoa", email="khoado@gmail.com")
    assert a.pk != b.pk
    pair = DuplicatePair.objects.get()
    assert (pair.contact_a_id, pair.contact_b_id) == (a.pk, b.pk)
    assert 60 <= pair.score < 90
    assert {r["field"] for r in pair.reasons} >= {"name", "email"}


def test_merge_moves_everything_and_leaves_a_tombstone(alice: User) -> None:
    a = capture(full_name="Vũ Thu Nga", phone="0911222333", source="facebook", campaign="tet", tags="vip")
    b = capture(full_name="Vu Thu Nga", email="nga@example.vn", province="Hà Nội",
                consents={"email": True})  # fmt: skip
    add_note(b, body="Gọi lại thứ Hai", author=alice)
    merge = merge_contacts(a, b, actor=alice)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id == a.pk
    assert (a.email, a.province, a.source, a.campaign) == ("nga@example.vn", "Hà Nội", "facebook", "tet")
    assert set(a.identities.values_list("kind", flat=True)) == {"phone", "email"}
    assert Note.objects.get().contact_id == a.pk
    assert Consent.objects.get().contact_id == a.pk
    assert StageChange.objects.filter(contact=b).count() == 0
    assert Event.objects.filter(contact=a, type="merged").exists()
    assert Event.objects.filter(contact=b, type="merged").exists()  # in both timelines
    assert not MatchKey.objects.filter(contact=b).exists()
    assert merge.moved["contacts.note.contact"] and merge.changed["email"] == ["", "nga@example.vn"]


def test_manual_choice_wins_over_the_rule(alice: User) -> None:
    a = capture(full_name="Ngô Hải", phone="0911222334")
    b = capture(full_name="Ngô Văn Hải", phone="0911222335")
    merge_contacts(a, b, actor=alice, choices={"full_name": "merged", "phone": "survivor"})
    a.refresh_from_db()
    assert (a.full_name, a.given_name, a.phone) == ("Ngô Văn Hải", "Hải", "+84911222334")


def test_the_most_trusted_source_gives_the_name(alice: User) -> None:
    # A rep typed the full name; Facebook's profile name came later and is more recent
    typed = capture(full_name="Ngô Văn Hải", phone="0911222336", source="manual")
    profile = capture(full_name="Hai Ngo", phone="0911222337", source="facebook", job_title="kế toán")
    merge_contacts(profile, typed, actor=alice)
    profile.refresh_from_db()
    assert (profile.full_name, profile.job_title, profile.source) == ("Ngô Văn Hải", "kế toán", "manual")


def test_unmerge_restores_both_and_keeps_what_came_later(alice: User) -> None:
    a = capture(full_name="Bùi Hữu Huy", phone="0364709894")
    b = capture(full_name="Bui Huu Huy", email="huy@example.vn", province="Hải Phòng")
    add_note(b, body="before", author=alice)
    merge = merge_contacts(a, b, actor=alice)
    # After the merge: a capture by b's email, another by a's phone, and an edit of a field
    capture(email="huy@example.vn", need="học IELTS")
    capture(phone="0364 709 894", need="khóa tối")
    update_contact(a, changes={"province": "Hà Nội"}, actor=alice)
    unmerge(merge, actor=alice)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into_id is None
    assert list(b.identities.values_list("value", flat=True)) == ["huy@example.vn"]
    assert Note.objects.get().contact_id == b.pk
    # The event that carried b's email went back to b; the one by a's phone stayed
    assert Event.objects.filter(contact=b, type="api_captured").count() == 2
    assert Event.objects.filter(contact=a, type="api_captured").count() == 2
    # email was set by the merge and is restored; province was edited since, so it stays
    assert a.email == "" and a.province == "Hà Nội"
    assert Event.objects.filter(contact=a, type="unmerged").exists()
    assert DuplicatePair.objects.get().status == DuplicatePair.Status.NOT_SAME
    with pytest.raises(MergeError):
        unmerge(merge, actor=alice)  # twice


def test_bad_merges_are_refused_and_change_nothing(alice: User) -> None:
    a = capture(full_name="Lý Văn Tài", phone="0911000001")
    b = capture(full_name="Lý Văn Tài", phone="0982345602")
    c = capture(full_name="Lý Văn Tài", phone="0353456703")
    with pytest.raises(MergeError, match="itself"):
        merge_contacts(a, a, actor=alice)
    merge_contacts(a, b, actor=alice)
    with pytest.raises(MergeError, match="already merged"):
        merge_contacts(c, b, actor=alice)
    pair = DuplicatePair.objects.create(contact_a=a, contact_b=c, score=70, found_by="manual", created_at=a.created_at)
    mark_not_same(pair, actor=alice)
    before = Merge.objects.count()
    with pytest.raises(MergeError, match="not the same person"):
        merge_contacts(a, c, actor=alice)
    with pytest.raises(MergeError, match="already decided"):
        merge_pair(pair, actor=alice)
    assert Merge.objects.count() == before and Contact.objects.get(pk=c.pk).merged_into_id is None


def test_not_same_pairs_are_never_proposed_again(alice: User) -> None:
    capture(full_name="Đỗ Minh Khoa", email="khoa.do@abc.vn")
    capture(full_name="Do Minh Khoa", email="khoado@gmail.com")
    pair = open_pairs().get()
    mark_not_same(pair, actor=alice)
    capture(full_name="Do Minh Khoa", email="khoado@gmail.com", need="again")
    assert not open_pairs().exists()


@settings(max_examples=15, deadline=None)
@given(
    fields_a=st.fixed_dictionaries({"province": st.sampled_from(["", "Hà Nội", "Huế"]), "need": st.text(max_size=8)}),
    fields_b=st.fixed_dictionaries({"province": st.sampled_from(["", "Cần Thơ"]), "job_title": st.text(max_size=8)}),
    notes=st.integers(min_value=0, max_value=3),
)
def test_merge_then_unmerge_restores_the_records(
    fields_a: dict[str, str], fields_b: dict[str, str], notes: int
) -> None:
    Contact.objects.all().delete()
    a = capture(full_name="Hoàng Yến", phone="0912888001", **fields_a)
    b = capture(full_name="Hoang Yen", phone="0912888002", **fields_b)
    for i in range(notes):
        add_note(b, body=f"n{i}", author=None)
    snapshot = {c.pk: _state(c) for c in (a, b)}
    merge = merge_contacts(a, b, actor=None)
    unmerge(merge, actor=None)
    assert {c.pk: _state(Contact.objects.get(pk=c.pk)) for c in (a, b)} == snapshot


def _state(contact: Contact) -> dict[str, Any]:
    fields = ("full_name", "phone", "email", "province", "need", "job_title", "stage_id", "score", "merged_into_id")
    return {
        **{f: getattr(contact, f) for f in fields},
        "identities": sorted(contact.identities.values_list("value", flat=True)),
        "notes": sorted(contact.notes.values_list("body", flat=True)),
        "events": sorted(contact.events.exclude(type__in=["merged", "unmerged"]).values_list("pk", flat=True)),
        "keys": sorted(MatchKey.objects.filter(contact=contact).values_list("key", flat=True)),
    }


def test_batch_dedupe_merges_proposes_and_reports(tmp_path: Path) -> None:
    # Leads of one import are not fuzzy-matched with each other at capture: the batch finds them
    rows = [
        {"full_name": "Trương Văn Phúc", "phone": "0905123456", "birth_date": "1980-01-02", "address": "12 Lê Lợi"},
        {"full_name": "Truong Phuc", "email": "phuc@example.vn", "birth_date": "02/01/1980", "address": "12 Le Loi"},
        {"full_name": "Đinh Thị Hạnh", "email": "hanh.dinh@xyz.vn"},
        {"full_name": "Dinh Thi Hanh", "email": "hanhdinh@gmail.com"},
        {"full_name": "Nguyễn Văn Hùng", "phone": "0905000001"},
        {"full_name": "Nguyễn Văn Hùng", "phone": "0389123002"},
        {"full_name": "Phúc Trương", "email": "phuc.truong@gmail.com", "birth_date": "1980-01-02",
         "address": "12 Lê Lợi, Q1"},
    ]  # fmt: skip
    results = capture_leads([parse_lead(r) for r in rows], event_type=Event.Type.IMPORTED)
    a, b, c, d, e, f, g = (Contact.objects.get(pk=r.contact_id) for r in results)
    dry = batch.run(DedupeRun.objects.create(dry_run=True, created_at=a.created_at), tmp_path)
    assert dry.status == "done" and dry.processed == dry.total == 7
    assert not Merge.objects.filter(undone_at__isnull=True).exists() and not DuplicatePair.objects.exists()
    real = batch.run(DedupeRun.objects.create(dry_run=False, created_at=a.created_at), tmp_path)
    rows = list(csv.DictReader(Path(real.report).open(encoding="utf-8")))
    decisions = {(int(r["contact_a"]), int(r["contact_b"])): r["decision"] for r in rows}
    assert decisions[(a.pk, b.pk)] == "merge"
    assert decisions[(c.pk, d.pk)] == "review"
    assert (e.pk, f.pk) not in decisions
    # One person in three records: both others merged straight into the oldest
    assert {Contact.objects.get(pk=x.pk).merged_into_id for x in (b, g)} == {a.pk}
    assert Merge.objects.filter(survivor=a).count() == 2
    assert set(a.identities.values_list("kind", flat=True)) == {"phone", "email"}
    assert a.identities.count() == 3
    assert open_pairs().get().contact_a_id == c.pk


def test_keys_are_those_of_the_engine() -> None:
    contact = capture(full_name="Phan Quốc Trung", phone="0912345001", email="trung@example.vn")
    record = Record.build(contact.pk, name=contact.full_name, phones=[contact.phone], emails=[contact.email])
    assert set(MatchKey.objects.filter(contact=contact).values_list("key", flat=True)) == blocking_keys(record)


def test_a_new_contacts_keys_are_those_it_would_have_if_read_back() -> None:
    # Given a contact already holding a phone, and a batch of two leads of one new person sharing that phone
    capture(full_name="Lý Văn Hùng", phone="0912345009")
    leads = [
        parse_lead({"full_name": "Lý Thị Mai", "phone": "0912345009", "email": "mai.ly@example.vn",
                    "zalo_id": "z-mai", "birth_date": "1990-04-05", "address": "18 Trần Phú", "company": "Cty ABC"}),
        parse_lead({"full_name": "Lý Thị Mai", "email": "mai@xyz.vn", "zalo_id": "z-mai"}),
    ]  # fmt: skip
    # When they are captured (the keys of the new contact are built from what was inserted)
    results = capture_leads(leads, event_type=Event.Type.API_CAPTURED, source_label="api")
    # Then it is a new contact whose keys are those of its record as the database holds it
    pk = results[0].contact_id
    assert results[0].created and results[1].contact_id == pk
    keys = set(MatchKey.objects.filter(contact_id=pk).values_list("key", flat=True))
    assert keys == blocking_keys(contact_records([pk])[pk])
    assert {"e:mai.ly@example.vn", "e:mai@xyz.vn", "x:zalo:z-mai", "b:1990-04-05"} <= keys


def test_dedupe_command(tmp_path: Path) -> None:
    rows = [
        {"full_name": "Trương Văn Phúc", "phone": "0905123456", "birth_date": "1980-01-02", "address": "12 Lê Lợi"},
        {"full_name": "Truong Phuc", "email": "phuc@example.vn", "birth_date": "02/01/1980", "address": "12 Le Loi"},
    ]
    capture_leads([parse_lead(r) for r in rows], event_type=Event.Type.IMPORTED)
    with pytest.raises(CommandError, match="auto-merge-above"):
        call_command("dedupe", "--auto-merge-above", "101")
    out, err = io.StringIO(), io.StringIO()
    call_command("dedupe", "--learn", "--report-dir", str(tmp_path), stdout=out, stderr=err)
    assert "2 contacts, 1 pairs scored: merged 1, 0 possible duplicates" in out.getvalue()
    assert "2/2 contacts" in err.getvalue()
    # Two contacts are too few to learn weights from: the defaults stay
    assert "too few" in err.getvalue() and not MatchSettings.objects.exists()
    assert Contact.objects.filter(merged_into__isnull=False).count() == 1
