"""Segments and static lists: every write, each in one transaction.

A dynamic segment's members are the live contacts its condition matches now (`members`, one SQL query).
Its SegmentMember rows are the membership as of the last `refresh`, kept to see who entered and who left:
each change is a `segment_entered` / `segment_left` event on the contact's timeline, recorded once. A static
list's SegmentMember rows are its members, added and removed by hand.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.conditions import ConditionError, contact_q
from nurture.contacts.models import Contact, Event
from nurture.contacts.signals import events_recorded
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.segments.models import Segment, SegmentMember

log = logging.getLogger(__name__)

SEGMENT_FIELDS = ("name", "description", "kind", "conditions")
EVENT_SOURCE = "segments"
BATCH = 1000  # rows per INSERT / ids per IN (...): well under SQLite's limit on bound parameters
NAME_LENGTH = 120


class SegmentError(ValueError):
    """A segment or a change that is refused; `field` names the part at fault and, for a condition that does
    not compile, `path` the part of the condition (the message, ConditionError's, names it too)."""

    def __init__(self, field: str, message: str, path: Sequence[str | int] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
        self.path = list(path) if path is not None else None


_PATH_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def condition_path(error: ConditionError) -> list[str | int]:
    """["any", 1, "field"] from "any[1].field: unknown field 'x'": conditions name the part at fault first."""
    head = str(error).partition(": ")[0]
    if head == "condition":  # the whole condition (not an object)
        return []
    return [int(index) if index else name for name, index in _PATH_PART.findall(head)]


# --- reading -----------------------------------------------------------------------------------------


def members(segment: Segment, contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """The segment's members among `contacts` (pass `visible_contacts(user)`): a dynamic segment's as of now.

    One SQL query however it is used (count, page, export). Raises ConditionError for a stored condition
    that no longer compiles.
    """
    if segment.is_dynamic:
        # A semi-join rather than filtering `contacts` directly: a condition on tags joins the many-to-many
        # table, where a contact with two of the tags would otherwise be counted (and exported) twice.
        return contacts.filter(pk__in=Contact.objects.filter(contact_q(segment.conditions)).values("pk"))
    return contacts.filter(Exists(SegmentMember.objects.filter(segment=segment, contact_id=OuterRef("pk"))))


def count(segment: Segment, contacts: QuerySet[Contact]) -> int:
    """How many of `contacts` are members now: one query."""
    return members(segment, contacts).count()


def unknown_ids(ids: Sequence[int], contacts: QuerySet[Contact], *, segment: Segment | None = None) -> set[int]:
    """The ids that are none of `contacts` (what the user may see) nor, given a list, among its rows."""
    known: set[int] = set()
    for chunk in _chunks(ids):
        known.update(contacts.filter(pk__in=chunk).values_list("pk", flat=True))
    if segment is not None:
        known |= _present(segment, list(ids))
    return set(ids) - known


def live_contacts() -> QuerySet[Contact]:
    """Every contact that is not a merge tombstone: what segments are computed over, whoever looks."""
    return Contact.objects.filter(merged_into__isnull=True)


# --- defining segments -------------------------------------------------------------------------------


def validate_segment(data: dict[str, Any], *, current: Segment | None = None) -> dict[str, Any]:
    """The segment's fields, cleaned; raises SegmentError naming the field (and the condition's part)."""
    name = str(data.get("name") or "").strip()
    description = str(data.get("description") or "").strip()
    if not name:
        raise SegmentError("name", _("a segment needs a name"))
    if len(name) > NAME_LENGTH:
        raise SegmentError("name", _("at most %(n)d characters") % {"n": NAME_LENGTH})
    for field, text in (("name", name), ("description", description)):
        if "\x00" in text:  # PostgreSQL refuses NUL characters in text
            raise SegmentError(field, _("NUL characters are not allowed"))
    kind = data.get("kind") or Segment.Kind.DYNAMIC
    if kind not in Segment.Kind.values:
        raise SegmentError("kind", _("unknown kind %(kind)s") % {"kind": repr(kind)})
    if current is not None and kind != current.kind:
        raise SegmentError("kind", _("the kind cannot change; make a new segment or list instead"))
    conditions = data.get("conditions") or {}
    if kind == Segment.Kind.STATIC:
        if conditions:
            raise SegmentError("conditions", _("a static list has no conditions: its members are added by hand"))
    elif not conditions:
        raise SegmentError("conditions", _("a dynamic segment needs a condition"))
    else:
        try:
            contact_q(conditions)
        except ConditionError as exc:
            raise SegmentError("conditions", str(exc), condition_path(exc)) from None
        if "\\u0000" in json.dumps(conditions):
            raise SegmentError("conditions", _("NUL characters are not allowed"))
    return {"name": name, "description": description, "kind": kind, "conditions": conditions}


def save_segment(segment: Segment | None, data: dict[str, Any], *, actor: User | None) -> Segment:
    """Create or change a segment; a new or changed condition is applied by a background refresh."""
    if segment is not None:
        data = {**{k: getattr(segment, k) for k in SEGMENT_FIELDS}, **data}
    clean = validate_segment({k: v for k, v in data.items() if k in SEGMENT_FIELDS}, current=segment)
    now = clock.now()
    with transaction.atomic():
        if segment is None:
            segment = Segment.objects.create(**clean, created_by=actor, created_at=now, updated_at=now)
            changed = True
        else:
            changed = clean["conditions"] != segment.conditions
            for k, v in clean.items():
                setattr(segment, k, v)
            segment.updated_at = now
            # Not member_count / refreshed_at: a refresh running now owns those.
            segment.save(update_fields=[*SEGMENT_FIELDS, "updated_at"])
        if segment.is_dynamic and changed:
            enqueue_on_commit("segments.refresh", {"segment_id": segment.pk})
    return segment


def delete_segment(segment: Segment, *, actor: User | None) -> None:
    """Delete a segment and its membership rows. Nobody "leaves" it: no events are recorded."""
    with transaction.atomic():
        log.info("segment %s (%s) deleted by %s", segment.pk, segment.name, actor)
        segment.delete()


# --- membership ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refresh:
    segment_id: int
    name: str
    entered: int = 0
    left: int = 0
    members: int = 0
    error: str = ""


def refresh(segment: Segment, *, actor: User | None = None, contact_ids: Sequence[int] | None = None) -> Refresh:
    """Bring a dynamic segment's stored membership in line with its condition, recording who entered and left.

    With `contact_ids`, only those contacts are looked at (the refresh right after they changed).

    Set-based: one query finds the matching contacts without a row, one the rows whose contact no longer
    matches; only those changes come back to Python. The segment row is locked (and read afresh: the condition
    may have just changed) for the whole transaction, so two refreshes (the job and "Refresh now") cannot both
    record the same change. A static list is recounted.
    """
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        if not locked.is_dynamic:
            segment.member_count = _recount(locked)
            return Refresh(locked.pk, locked.name, members=locked.member_count)
        now = clock.now()
        matching = members(locked, live_contacts())
        stored = SegmentMember.objects.filter(segment=locked)
        if contact_ids is not None:
            matching = matching.filter(pk__in=contact_ids)
            stored = stored.filter(contact_id__in=contact_ids)
        new = matching.filter(~Exists(stored.filter(contact_id=OuterRef("pk"))))
        entered = list(new.order_by("pk").values_list("pk", flat=True))
        gone = stored.exclude(contact_id__in=matching.values("pk"))
        left = list(gone.order_by("contact_id").values_list("contact_id", flat=True))
        _insert(locked, entered, now)
        for chunk in _chunks(left):
            stored.filter(contact_id__in=chunk).delete()
        _record(locked, entered, Event.Type.SEGMENT_ENTERED, now, actor)
        _record(locked, left, Event.Type.SEGMENT_LEFT, now, actor)
        total = SegmentMember.objects.filter(segment=locked).count()
        Segment.objects.filter(pk=locked.pk).update(member_count=total, refreshed_at=now)
    segment.member_count, segment.refreshed_at = total, now
    return Refresh(locked.pk, locked.name, entered=len(entered), left=len(left), members=total)


def refresh_all() -> list[Refresh]:
    """Refresh every dynamic segment and recount every list, each in its own transaction (the nightly job,
    `nurture refresh-segments`). A segment that fails is logged and reported in its result; the others go on.
    """
    results = []
    for segment in Segment.objects.order_by("pk"):
        try:
            results.append(refresh(segment))
        except Segment.DoesNotExist:
            continue  # deleted meanwhile
        except Exception as exc:  # noqa: BLE001 - one broken segment must not stop the others
            log.exception("refreshing segment %s failed", segment.pk)
            results.append(Refresh(segment.pk, segment.name, error=f"{type(exc).__name__}: {exc}"))
    return results


def refresh_contacts(contact_ids: Sequence[int]) -> int:
    """Re-check these contacts against every dynamic segment (they were just captured or changed).

    Returns how many entered or left. Runs as a job shortly after the change, so "entered segment" can start
    a journey within seconds rather than at the nightly refresh.
    """
    changed = 0
    for chunk in _chunks(sorted(set(contact_ids))):
        for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk"):
            result = refresh(segment, contact_ids=chunk)
            changed += result.entered + result.left
    return changed


def add_to_list(segment: Segment, contact_ids: Iterable[int], *, actor: User | None) -> list[int]:
    """Add contacts to a static list; returns the ids added (members already, and tombstones, are skipped).

    Callers check the ids against what their user may see (see api.py / views.py); this adds live contacts.
    """
    _require_static(segment)
    ids = sorted(set(contact_ids))
    now = clock.now()
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        live = set(ids) - unknown_ids(ids, live_contacts())
        added = sorted(live - _present(locked, ids))
        _insert(locked, added, now)
        _record(locked, added, Event.Type.SEGMENT_ENTERED, now, actor)
        segment.member_count = _recount(locked)
    return added


def remove_from_list(segment: Segment, contact_ids: Iterable[int], *, actor: User | None) -> list[int]:
    """Remove contacts from a static list; returns the ids removed (non-members are skipped)."""
    _require_static(segment)
    ids = sorted(set(contact_ids))
    now = clock.now()
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        removed = sorted(_present(locked, ids))
        for chunk in _chunks(removed):
            SegmentMember.objects.filter(segment=locked, contact_id__in=chunk).delete()
        _record(locked, removed, Event.Type.SEGMENT_LEFT, now, actor)
        segment.member_count = _recount(locked)
    return removed


def _require_static(segment: Segment) -> None:
    if segment.is_dynamic:
        raise SegmentError("kind", _("only a static list has members added or removed by hand"))


def _present(segment: Segment, ids: list[int]) -> set[int]:
    stored = SegmentMember.objects.filter(segment=segment)
    found: set[int] = set()
    for chunk in _chunks(ids):
        found.update(stored.filter(contact_id__in=chunk).values_list("contact_id", flat=True))
    return found


def _insert(segment: Segment, contact_ids: list[int], at: datetime) -> None:
    for chunk in _chunks(contact_ids):
        SegmentMember.objects.bulk_create([SegmentMember(segment=segment, contact_id=c, added_at=at) for c in chunk])


def _recount(segment: Segment) -> int:
    """A list's member count: its live members (a merge leaves the tombstone's row behind)."""
    total = SegmentMember.objects.filter(segment=segment, contact__merged_into__isnull=True).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=total)
    segment.member_count = total
    return total


def _record(segment: Segment, contact_ids: list[int], kind: str, at: datetime, actor: User | None) -> None:
    """One timeline event per contact that entered or left. Not the contact's own doing: no last activity,
    no points (record_events would do both); listeners hear of them (journeys start on "entered segment")."""
    data = {"segment": segment.pk, "name": segment.name}
    for chunk in _chunks(contact_ids):
        events = Event.objects.bulk_create(
            [Event(contact_id=c, type=kind, at=at, source=EVENT_SOURCE, data=data, actor=actor) for c in chunk]
        )
        events_recorded.send(Contact, events=events)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]
