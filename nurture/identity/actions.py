"""Merges, unmerges and decisions on possible duplicates. Each is one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.actions import set_name
from nurture.contacts.models import Contact, Event, Identity
from nurture.contacts.signals import contacts_merged
from nurture.core import clock
from nurture.core.jobs import enqueue_on_commit
from nurture.identity.candidates import refresh_keys
from nurture.identity.models import DedupeRun, DuplicatePair, MatchKey, MatchSettings, Merge
from nurture.lifecycle.models import Stage

# How each field of the survivor is chosen, unless the person merging picks a side:
# trusted = from the contact whose source is most trusted (settings.NURTURE_SOURCE_TRUST),
# recent = the most recently updated non-empty value, oldest = first touch (attribution).
SURVIVORSHIP = {
    "full_name": "trusted", "gender": "trusted", "birth_date": "trusted",
    "email": "recent", "phone": "recent", "company_id": "recent", "job_title": "recent", "industry": "recent",
    "province": "recent", "address": "recent", "need": "recent", "preferred_contact_time": "recent",
    "owner_id": "recent",
    "source": "oldest", "medium": "oldest", "campaign": "oldest", "referrer": "oldest", "landing_url": "oldest",
}  # fmt: skip
CHOOSABLE = tuple(SURVIVORSHIP)
# Rows that stay with their contact: the identity app's own bookkeeping.
NOT_MOVED = (MatchKey, DuplicatePair, Merge)


class MergeError(ValueError):
    pass


def _lock(*ids: int) -> dict[int, Contact]:
    contacts = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    missing = set(ids) - set(contacts)
    if missing:
        raise MergeError(_("Contact %(id)s does not exist.") % {"id": min(missing)})
    return contacts


def _trust(contact: Contact) -> int:
    order = [s.lower() for s in getattr(settings, "NURTURE_SOURCE_TRUST", [])]
    source = contact.source.lower()
    return order.index(source) if source in order else len(order)


def _survivor_values(survivor: Contact, merged: Contact, choices: Mapping[str, str]) -> dict[str, Any]:
    """The value of each choosable field after the merge."""
    recent, older = sorted((survivor, merged), key=lambda c: c.updated_at, reverse=True)
    first, later = sorted((survivor, merged), key=lambda c: (c.created_at, c.pk))
    trusted = sorted((survivor, merged), key=lambda c: (_trust(c), -c.updated_at.timestamp()))
    values: dict[str, Any] = {}
    for name, rule in SURVIVORSHIP.items():
        if choices.get(name) in ("survivor", "merged"):
            order = [survivor, merged] if choices[name] == "survivor" else [merged, survivor]
        elif rule == "oldest":
            order = [first, later]
        elif rule == "trusted":
            order = trusted
        else:
            order = [recent, older]
        chosen = order[0] if name in choices else next((c for c in order if getattr(c, name)), order[0])
        values[name] = getattr(chosen, name)
    return values


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _moveable_relations() -> list[tuple[type[Any], str]]:
    """(model, field name) of every one-to-many relation pointing at Contact that moves on merge.

    Found from the model registry, so deals, tasks, enrolments and score history added by later apps
    move too without this code knowing them. Rows unique per contact (checklists, list memberships) say
    `stays_on_merge = True` and stay with the tombstone.
    """
    relations = []
    for rel in Contact._meta.related_objects:
        model = rel.related_model
        stays = model in NOT_MOVED or getattr(model, "stays_on_merge", False)
        if rel.one_to_many and model is not Contact and not stays:
            relations.append((model, rel.field.name))
    return relations


def _label(model: type[Any], field: str) -> str:
    return f"{model._meta.label_lower}.{field}"


def _both_timelines(kind: str, merge: Merge, at: datetime, actor: User | None, info: dict[str, Any]) -> list[Event]:
    s, m = merge.survivor, merge.merged
    info = {**info, "merge_id": merge.pk}
    return [
        Event(contact=s, type=kind, at=at, actor=actor, data={**info, "other_id": m.pk, "other_name": str(m)}),
        Event(contact=m, type=kind, at=at, actor=actor, data={**info, "survivor_id": s.pk, "survivor_name": str(s)}),
    ]


@dataclass
class MergeRequest:
    survivor_id: int
    merged_id: int
    score: float | None = None
    choices: Mapping[str, str] = field(default_factory=dict)


def merge_contacts(
    survivor: Contact,
    merged: Contact,
    *,
    actor: User | None,
    choices: Mapping[str, str] | None = None,
    score: float | None = None,
) -> Merge:
    """Merge `merged` into `survivor`: fields by survivorship, every related row moved, a tombstone left.

    `choices` maps a field to "survivor" or "merged" (the manual choice on the review screen).
    """
    return merge_many([MergeRequest(survivor.pk, merged.pk, score, choices or {})], actor=actor)[0]


def merge_many(requests: list[MergeRequest], *, actor: User | None, strict: bool = True) -> list[Merge]:
    """Apply merges in one transaction, set-based: a few statements whatever their number.

    A survivor may take several contacts; a contact merged here cannot also survive here. A merge that
    is not allowed (with itself, a tombstone, a pair marked not the same person) raises MergeError, or
    with `strict=False` is left out (the batch clean-up).
    """
    for r in requests:
        if r.survivor_id == r.merged_id:
            raise MergeError(_("A contact cannot be merged with itself."))
    now = clock.now()
    with transaction.atomic():
        locked = _lock(*{c for r in requests for c in (r.survivor_id, r.merged_id)})
        requests = _allowed(requests, locked, strict)
        if not requests:
            return []
        survivor_ids = {r.survivor_id for r in requests}
        merged_to = {r.merged_id: r.survivor_id for r in requests}
        if survivor_ids & set(merged_to) or len(merged_to) != len(requests):
            raise ValueError("a contact is merged twice or both merged and surviving")
        positions = dict(Stage.objects.values_list("pk", "position"))
        changed_by_merge = []
        for r in requests:
            s, m = locked[r.survivor_id], locked[r.merged_id]
            changed_by_merge.append(_absorb(s, m, r.choices, positions))
        moved, identities = _move_rows(merged_to)
        tags_added = _move_tags(merged_to)
        columns = {name for changed in changed_by_merge for name in changed}
        if "full_name" in columns:
            columns |= {"family_name", "middle_name", "given_name", "name_folded"}
        for contact_id in survivor_ids:
            locked[contact_id].updated_at = now
        Contact.objects.bulk_update([locked[c] for c in survivor_ids], sorted(columns | {"updated_at"}))
        Contact.objects.filter(pk__in=list(merged_to)).update(
            merged_into=Case(*[When(pk=m, then=Value(s)) for m, s in merged_to.items()]), updated_at=now
        )
        merges = Merge.objects.bulk_create(
            [
                Merge(survivor=locked[r.survivor_id], merged=locked[r.merged_id], score=r.score, at=now, actor=actor,
                      changed=changed, moved=moved.get(r.merged_id, {}), tags_added=tags_added.get(r.merged_id, []),
                      identities=identities.get(r.merged_id, []))
                for r, changed in zip(requests, changed_by_merge, strict=True)
            ]
        )  # fmt: skip
        for merge in merges:
            locked[merge.merged_id].merged_into_id = merge.survivor_id
        Event.objects.bulk_create(
            [
                event
                for merge, changed in zip(merges, changed_by_merge, strict=True)
                for event in _both_timelines(
                    Event.Type.MERGED, merge, now, actor, {"score": merge.score, "changed": sorted(changed)}
                )
            ]
        )
        pairs = {tuple(sorted(item)) for item in merged_to.items()}
        involved = list(locked)
        decided = [
            pk
            for pk, a, b in DuplicatePair.objects.filter(contact_a__in=involved, contact_b__in=involved).values_list(
                "pk", "contact_a_id", "contact_b_id"
            )
            if (a, b) in pairs
        ]
        DuplicatePair.objects.filter(pk__in=decided).update(
            status=DuplicatePair.Status.MERGED, decided_at=now, decided_by=actor
        )
        MatchKey.objects.filter(contact__in=list(merged_to)).delete()
        refresh_keys(survivor_ids)
        contacts_merged.send(Contact, merges=merges)  # journeys: a survivor goes on in each journey once
    return merges


def _allowed(requests: list[MergeRequest], locked: dict[int, Contact], strict: bool) -> list[MergeRequest]:
    ids = list(locked)
    not_same = set(
        DuplicatePair.objects.filter(
            contact_a__in=ids, contact_b__in=ids, status=DuplicatePair.Status.NOT_SAME
        ).values_list("contact_a_id", "contact_b_id")
    )
    allowed = []
    for r in requests:
        try:
            for contact in (locked[r.survivor_id], locked[r.merged_id]):
                if contact.merged_into_id:
                    raise MergeError(
                        _("Contact %(id)s was already merged into contact %(into)s.")
                        % {"id": contact.pk, "into": contact.merged_into_id}
                    )
            if tuple(sorted((r.survivor_id, r.merged_id))) in not_same:
                raise MergeError(_("These contacts were marked as not the same person."))
        except MergeError:
            if strict:
                raise
            continue
        allowed.append(r)
    return allowed


def _absorb(s: Contact, m: Contact, choices: Mapping[str, str], positions: dict[int, int]) -> dict[str, list[Any]]:
    """Set the survivor's fields (in memory) as the merge decides; return {field: [before, after]}."""
    values = _survivor_values(s, m, choices)
    values.update(
        stage_id=max((s.stage_id, m.stage_id), key=lambda pk: positions.get(pk, 0)),
        score=max(s.score, m.score),
        created_at=min(s.created_at, m.created_at),
        last_activity_at=max(s.last_activity_at, m.last_activity_at),
        custom_fields={**m.custom_fields, **s.custom_fields},
    )
    changed: dict[str, list[Any]] = {}
    for name, value in values.items():
        if getattr(s, name) != value:
            changed[name] = [_json(getattr(s, name)), _json(value)]
            setattr(s, name, value)
    if "full_name" in changed:
        set_name(s, s.full_name)
    return changed


def _move_rows(merged_to: dict[int, int]) -> tuple[dict[int, dict[str, list[int]]], dict[int, list[str]]]:
    """Point every related row of the merged contacts at their survivors.

    Returns the moved ids per merged contact and relation, and the merged contacts' identities.
    """
    moved: dict[int, dict[str, list[int]]] = {}
    identities: dict[int, list[str]] = {}
    merged_ids = list(merged_to)
    for model, fk in _moveable_relations():
        label = _label(model, fk)
        extra = ("kind", "value") if model is Identity else ()
        rows = list(model.objects.filter(**{f"{fk}__in": merged_ids}).values_list("pk", f"{fk}_id", *extra))
        if not rows:
            continue
        for pk, owner, *rest in rows:
            moved.setdefault(owner, {}).setdefault(label, []).append(pk)
            if rest:
                identities.setdefault(owner, []).append(f"{rest[0]}:{rest[1]}")
        owners = {owner for _, owner, *_ in rows}
        model.objects.filter(**{f"{fk}__in": list(owners)}).update(
            **{fk: Case(*[When(**{f"{fk}_id": m}, then=Value(merged_to[m])) for m in owners])}
        )
    return moved, identities


def _move_tags(merged_to: dict[int, int]) -> dict[int, list[int]]:
    """Give each survivor the tags of what it absorbed; return the tags added per merged contact."""
    through = Contact.tags.through
    ids = list(merged_to) + list(set(merged_to.values()))
    tags: dict[int, set[int]] = {}
    for contact_id, tag_id in through.objects.filter(contact_id__in=ids).values_list("contact_id", "tag_id"):
        tags.setdefault(contact_id, set()).add(tag_id)
    added: dict[int, list[int]] = {}
    for m, s in merged_to.items():
        new = sorted(tags.get(m, set()) - tags.get(s, set()))
        if new:
            added[m] = new
            tags.setdefault(s, set()).update(new)
    through.objects.bulk_create(
        [through(contact_id=merged_to[m], tag_id=t) for m, new in added.items() for t in new], ignore_conflicts=True
    )
    return added


def unmerge(merge: Merge, *, actor: User | None) -> Contact:
    """Undo a merge: the merged contact comes back with everything that moved.

    What reached the survivor after the merge stays there, except events that carry one of the
    restored contact's identities. A survivor field the merge changed goes back unless it was edited
    since. The pair is then remembered as not the same person.
    """
    now = clock.now()
    with transaction.atomic():
        merge = Merge.objects.select_for_update().get(pk=merge.pk)
        if merge.undone_at:
            raise MergeError(_("This merge was already undone."))
        locked = _lock(merge.survivor_id, merge.merged_id)
        s, m = locked[merge.survivor_id], locked[merge.merged_id]
        if s.merged_into_id:
            raise MergeError(
                _("The survivor was itself merged into contact %(id)s; undo that merge first.")
                % {"id": s.merged_into_id}
            )
        relations = {_label(model, field): (model, field) for model, field in _moveable_relations()}
        for label, ids in merge.moved.items():
            if label in relations:
                model, field = relations[label]
                model.objects.filter(pk__in=ids, **{field: s}).update(**{field: m})
        merge_event = Event.objects.filter(contact=s, type=Event.Type.MERGED, data__merge_id=merge.pk).first()
        if merge.identities and merge_event is not None:
            later = Event.objects.filter(contact=s, pk__gt=merge_event.pk).exclude(type=Event.Type.MERGED)
            carried = [
                e.pk for e in later.only("pk", "data") if set(e.data.get("identities", [])) & set(merge.identities)
            ]
            Event.objects.filter(pk__in=carried).update(contact=m)
        for name, (before, after) in merge.changed.items():
            if _json(getattr(s, name)) == after:
                setattr(s, name, date.fromisoformat(before) if name == "birth_date" and before else before)
        if "full_name" in merge.changed:
            set_name(s, s.full_name)
        s.tags.remove(*merge.tags_added)
        s.updated_at = now
        s.save()
        m.merged_into = None
        m.updated_at = now
        m.save(update_fields=["merged_into", "updated_at"])
        merge.undone_at, merge.undone_by = now, actor
        merge.save(update_fields=["undone_at", "undone_by"])
        Event.objects.bulk_create(_both_timelines(Event.Type.UNMERGED, merge, now, actor, {}))
        a, b = sorted((s.pk, m.pk))
        DuplicatePair.objects.update_or_create(
            contact_a_id=a, contact_b_id=b,
            defaults={"status": DuplicatePair.Status.NOT_SAME, "decided_at": now, "decided_by": actor},
            create_defaults={"status": DuplicatePair.Status.NOT_SAME, "decided_at": now, "decided_by": actor,
                             "score": merge.score or 0, "found_by": DuplicatePair.FoundBy.MANUAL, "created_at": now},
        )  # fmt: skip
        refresh_keys([s.pk, m.pk])
    return m


def merge_pair(
    pair: DuplicatePair, *, actor: User | None, survivor_id: int | None = None, choices: Mapping[str, str] | None = None
) -> Merge:
    """Merge a proposed pair; the older contact survives unless the reviewer picks the other one."""
    pair.refresh_from_db()
    if pair.status != DuplicatePair.Status.OPEN:
        raise MergeError(_("This pair was already decided: %(status)s.") % {"status": pair.get_status_display()})
    a, b = pair.contact_a, pair.contact_b
    if survivor_id is None:
        survivor_id = min((a, b), key=lambda c: (c.created_at, c.pk)).pk
    if survivor_id not in (a.pk, b.pk):
        raise MergeError(_("The survivor must be one of the two contacts."))
    survivor, merged = (a, b) if survivor_id == a.pk else (b, a)
    return merge_contacts(survivor, merged, actor=actor, choices=choices, score=pair.score)


def mark_not_same(pair: DuplicatePair, *, actor: User | None) -> None:
    """Remember that these are two people: the pair is never proposed again."""
    pair.refresh_from_db()
    if pair.status != DuplicatePair.Status.OPEN:
        raise MergeError(_("This pair was already decided: %(status)s.") % {"status": pair.get_status_display()})
    DuplicatePair.objects.filter(pk=pair.pk).update(
        status=DuplicatePair.Status.NOT_SAME, decided_at=clock.now(), decided_by=actor
    )


def skip(pair: DuplicatePair) -> None:
    """Put the pair at the end of the queue, undecided."""
    DuplicatePair.objects.filter(pk=pair.pk, status=DuplicatePair.Status.OPEN).update(skipped_at=clock.now())


def open_pairs() -> Any:
    """Undecided pairs whose contacts both still exist as themselves, the queue order."""
    return (
        DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN)
        .filter(Q(contact_a__merged_into__isnull=True) & Q(contact_b__merged_into__isnull=True))
        .order_by(F("skipped_at").asc(nulls_first=True), "-score", "pk")
    )


def save_match_settings(
    *, auto_merge: float, review: float, prior: float, weights: dict[str, list[float]], learned: bool = False
) -> MatchSettings:
    row = MatchSettings.objects.first() or MatchSettings()
    row.auto_merge, row.review, row.prior, row.weights = auto_merge, review, prior, weights
    row.updated_at = clock.now()
    if learned:
        row.learned_at = row.updated_at
    row.save()
    return row


def start_dedupe(*, actor: User | None, dry_run: bool, auto_merge_above: float | None) -> DedupeRun:
    """Queue a batch de-duplication for the worker."""
    with transaction.atomic():
        run = DedupeRun.objects.create(
            actor=actor, dry_run=dry_run, auto_merge_above=auto_merge_above, created_at=clock.now()
        )
        enqueue_on_commit("identity.dedupe", {"run_id": run.pk}, key=f"dedupe:{run.pk}", max_attempts=1)
    return run
