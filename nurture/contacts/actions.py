"""Every write to contacts goes through here: capture, update, notes, stage changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Greatest
from django.utils.translation import gettext_lazy

from nurture.accounts.models import User
from nurture.contacts.leads import LeadInput
from nurture.contacts.models import Company, Consent, Contact, Event, Identity, Note, Tag
from nurture.contacts.signals import (
    activity_logged,
    contacts_changed,
    contacts_created,
    events_recorded,
    stage_entered,
)
from nurture.core import clock
from nurture.core.normalise import fold, split_name
from nurture.core.writes import bulk_update, insert
from nurture.identity.candidates import (
    candidates,
    current_config,
    lead_record,
    lock_keys,
    new_record,
    refresh_keys,
)
from nurture.identity.matching import Match, decide, names_conflict
from nurture.identity.models import DuplicatePair
from nurture.lifecycle import stages
from nurture.lifecycle.actions import apply_rules, check_move
from nurture.lifecycle.models import Stage, StageChange
from nurture.scoring.actions import score_new_events, sync_attributes

if TYPE_CHECKING:
    from nurture.sales.models import Deal

# Contact fields a later capture may fill when they are still empty. Attribution fields are
# first-touch: never overwritten once set.
FILLABLE = (
    "full_name", "email", "phone", "gender", "birth_date", "job_title", "industry", "province", "address", "need",
    "preferred_contact_time", "source", "medium", "campaign", "referrer", "landing_url",
)  # fmt: skip
DERIVED_NAME_FIELDS = ("family_name", "middle_name", "given_name", "name_folded")
IDENTITY_ATTR = {
    "external": "external_id",
    "phone": "phone",
    "email": "email",
    "zalo": "zalo_id",
    "facebook": "facebook_id",
    "anonymous": "anonymous_id",
}
# Identities a household may share: a match on one of them alone, under another name, is not the person.
SHAREABLE = ("phone", "email")
LOOKUP_CHUNK = 500
CAPTURE_RETRIES = 3


@dataclass
class CaptureResult:
    contact_id: int
    created: bool
    updated_fields: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.created:
            return "created"
        return "updated" if self.updated_fields else "unchanged"


def capture_lead(lead: LeadInput, **options: Any) -> CaptureResult:
    return capture_leads([lead], **options)[0]


def capture_leads(
    leads: Sequence[LeadInput],
    *,
    event_type: str,
    cause: str = StageChange.Cause.CAPTURE,
    actor: User | None = None,
    source_label: str = "",
    record_unchanged: bool = True,
    retry: bool = True,
) -> list[CaptureResult]:
    """Find or create the contact of each lead, fill empty fields and append the event.

    Leads whose normalised phone, email or other identity is already known land on that contact;
    leads in the same batch that share an identity land on one new contact. `record_unchanged=False`
    skips the event for a lead that changed nothing, so re-importing a file is a no-op. `retry=False`: the
    caller's transaction fails with the capture and the caller tries again itself (capture.combining), so the
    capture takes no savepoint to retry from (two round trips).
    """
    for attempt in range(CAPTURE_RETRIES):
        try:
            with transaction.atomic(savepoint=retry):
                return _capture(leads, event_type, cause, actor, source_label, record_unchanged)
        except IntegrityError:
            # A parallel capture created one of these identities first (the unique constraint on
            # Identity closes the race); the retry finds it and lands on that contact.
            if attempt == CAPTURE_RETRIES - 1 or not retry:
                raise
    raise AssertionError("unreachable")


def _group(leads: Sequence[LeadInput]) -> list[list[int]]:
    """Group lead indexes that share any identity key (union-find).

    A phone or email shared under clearly different names (a parent and a child) does not group.
    """
    parent = list(range(len(leads)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, lead in enumerate(leads):
        for key in lead.identity_keys():
            if key in owner:
                if key[0] in SHAREABLE and names_conflict(lead.full_name, leads[owner[key]].full_name):
                    continue
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(leads)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _existing_identities(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    values = sorted({value for _, value in keys})
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(values), LOOKUP_CHUNK):
        rows = Identity.objects.filter(value__in=values[start : start + LOOKUP_CHUNK]).values_list(
            "kind", "value", "contact_id"
        )
        for kind, value, contact_id in rows:
            if (kind, value) in keys:
                found[(kind, value)] = contact_id
    return found


def _merged_value(group_leads: list[LeadInput], name: str) -> Any:
    for lead in group_leads:
        value = getattr(lead, name)
        if value:
            return value
    return "" if name != "birth_date" else None


def set_name(contact: Contact, full_name: str) -> None:
    parts = split_name(full_name)
    contact.full_name = full_name
    contact.family_name, contact.middle_name, contact.given_name = parts.family, parts.middle, parts.given
    contact.name_folded = fold(full_name)


def _companies(names: set[str], now: datetime) -> dict[str, int]:
    """Company id per name, matched on the folded name; missing companies are created."""
    by_folded = {fold(name): name for name in names if name}
    if not by_folded:
        return {}
    known = dict(Company.objects.filter(name_folded__in=list(by_folded)).values_list("name_folded", "id"))
    missing = [Company(name=by_folded[f], name_folded=f, created_at=now) for f in by_folded if f not in known]
    for company in Company.objects.bulk_create(missing):
        known[company.name_folded] = company.pk
    return {name: known[fold(name)] for name in names if name}


def _tags(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    return dict(Tag.objects.filter(name__in=list(names)).values_list("name", "id"))


def _capture(
    leads: Sequence[LeadInput],
    event_type: str,
    cause: str,
    actor: User | None,
    source_label: str,
    record_unchanged: bool,
) -> list[CaptureResult]:
    now = clock.now()
    groups = _group(leads)
    all_keys = {key for lead in leads for key in lead.identity_keys()}
    known = _existing_identities(all_keys)

    exact = [_exact_target(leads, group, known) for group in groups]
    existing = Contact.objects.in_bulk([t for t, _ in exact if t is not None])
    target_of_group, reviews = _resolve(leads, groups, exact, existing)
    existing = Contact.objects.in_bulk([t for t in target_of_group if t is not None])
    companies = _companies({lead.company for lead in leads if lead.company}, now)
    tag_ids = _tags({tag for lead in leads for tag in lead.tags})
    entry_stage = {anonymous: stages.entry_stage_id(anonymous=anonymous) for anonymous in (False, True)}

    new_contacts: list[Contact] = []
    new_group_indexes: list[int] = []
    new_anonymous: list[bool] = []
    changed: dict[int, set[str]] = {}
    for g, group in enumerate(groups):
        group_leads = [leads[i] for i in group]
        target = target_of_group[g]
        if target is None:
            anonymous = all(lead.is_anonymous for lead in group_leads)
            contact = Contact(
                stage_id=entry_stage[anonymous],
                created_at=_first_time(group_leads, now),
                updated_at=now,
                last_activity_at=_last_time(group_leads, now),
            )
            for name in FILLABLE:
                setattr(contact, name, _merged_value(group_leads, name))
            set_name(contact, contact.full_name)
            company = _merged_value(group_leads, "company")
            contact.company_id = companies.get(company) if company else None
            contact.custom_fields = _merged_custom(group_leads, {})
            new_contacts.append(contact)
            new_group_indexes.append(g)
            new_anonymous.append(anonymous)
        else:
            contact = existing[target]
            fields = _fill(contact, group_leads, companies)
            if fields:
                changed[contact.pk] = set(fields)
    insert(new_contacts)
    contact_of_group: list[Contact] = [None] * len(groups)  # type: ignore[list-item]
    for g, contact in zip(new_group_indexes, new_contacts, strict=True):
        contact_of_group[g] = contact
    for g, target in enumerate(target_of_group):
        if target is not None:
            contact_of_group[g] = existing[target]

    results: list[CaptureResult | None] = [None] * len(leads)
    new_ids = {c.pk for c in new_contacts}
    identities: list[Identity] = []
    events: list[Event] = []
    consents: list[Consent] = []
    contact_tags: set[tuple[int, int]] = set()
    touched: set[int] = set()
    inserted: set[tuple[str, str]] = set()
    for g, group in enumerate(groups):
        contact = contact_of_group[g]
        created = contact.pk in new_ids
        updated_fields = sorted(changed.get(contact.pk, set()))
        new_keys = False
        filled: set[str] = set()
        for n, i in enumerate(group):
            lead = leads[i]
            if created:
                # Later leads of a new contact report what they added to the earlier ones.
                contributed = sorted({name for name in FILLABLE if getattr(lead, name)} - filled)
                filled.update(contributed)
                results[i] = CaptureResult(contact.pk, n == 0, contributed if n else [])
            else:
                results[i] = CaptureResult(contact.pk, False, updated_fields if n == 0 else [])
            for key in lead.identity_keys():
                # A key another contact holds (a family phone) or this batch already gave stays there.
                if key not in known and key not in inserted:
                    inserted.add(key)
                    new_keys = True
                    identities.append(
                        Identity(contact_id=contact.pk, kind=key[0], value=key[1], source=source_label, created_at=now)
                    )
            for tag in lead.tags:
                contact_tags.add((contact.pk, tag_ids[tag]))
            for channel, granted in lead.consents.items():
                consents.append(
                    Consent(
                        contact_id=contact.pk,
                        channel=channel,
                        granted=granted,
                        source=source_label,
                        text=lead.consent_texts.get(channel, ""),
                        at=lead.occurred_at or now,
                    )
                )
            if created or updated_fields or record_unchanged or new_keys:
                events.append(
                    Event(
                        contact_id=contact.pk,
                        type=event_type,
                        at=lead.occurred_at or now,
                        source=source_label,
                        data=_event_data(lead),
                        actor=actor,
                    )
                )
                touched.add(contact.pk)
    insert(identities)
    insert(events)
    insert(consents)
    if contact_tags:
        through = Contact.tags.through
        insert([through(contact_id=c, tag_id=t) for c, t in contact_tags], ignore_conflicts=True)
    insert(
        [
            StageChange(contact_id=c.pk, to_stage_id=c.stage_id, cause=cause, actor=actor, at=c.created_at)
            for c in new_contacts
        ]
    )
    _save_existing(existing, changed, touched - new_ids, now)
    insert(
        [
            DuplicatePair(
                contact_a_id=min(contact_of_group[g].pk, other),
                contact_b_id=max(contact_of_group[g].pk, other),
                score=match.score,
                reasons=match.reasons_json(),
                found_by=DuplicatePair.FoundBy.CAPTURE,
                created_at=now,
            )  # fmt: skip
            for g, matches in reviews.items()
            for other, match in matches
        ],
        ignore_conflicts=True,  # a pair already proposed, or marked not the same person, stays as it is
    )
    identities_of: dict[int, list[tuple[str, str]]] = {}
    for identity in identities:
        identities_of.setdefault(identity.contact_id, []).append((identity.kind, identity.value))
    new_records = {
        contact_of_group[g].pk: new_record(
            contact_of_group[g], identities_of.get(contact_of_group[g].pk, []),
            _merged_value([leads[i] for i in groups[g]], "company"),
        )
        for g in new_group_indexes
    }  # fmt: skip
    refresh_keys(set(changed) | identities_of.keys(), new=new_records)
    score_new_events(events)
    # An anonymous website visitor is not a lead yet: it is announced when it identifies itself.
    new_leads = sorted(c.pk for c, anonymous in zip(new_contacts, new_anonymous, strict=True) if not anonymous)
    after_change({e.contact_id for e in events}, new_leads=new_leads)
    events_recorded.send(Contact, events=events, new_contact_ids=new_ids)
    return [r for r in results if r is not None]


def after_change(contact_ids: Iterable[int], *, new_leads: Sequence[int] = ()) -> None:
    """Inside the transaction that changed these contacts (scores already updated): lifecycle rules move
    them, routing assigns the new leads among them, then listeners (journeys, segments) hear about it, so that
    their filters see each lead's stage and owner."""
    ids = sorted(set(contact_ids))
    apply_rules(ids)
    if new_leads:
        contacts_created.send(Contact, contact_ids=new_leads)  # routing assigns them here
    contacts_changed.send(Contact, contact_ids=ids)


def _exact_target(
    leads: Sequence[LeadInput], group: list[int], known: dict[tuple[str, str], int]
) -> tuple[int | None, str]:
    """The contact a known identity of the group points at, most trusted kind first, and that kind."""
    # When a group's keys point at different contacts the most trusted wins; the batch clean-up
    # proposes the others as possible duplicates.
    for kind in IDENTITY_ATTR:
        for i in group:
            value = getattr(leads[i], IDENTITY_ATTR[kind])
            if value and (kind, value) in known:
                return known[(kind, value)], kind
    return None, ""


def _resolve(
    leads: Sequence[LeadInput],
    groups: list[list[int]],
    exact: list[tuple[int | None, str]],
    existing: dict[int, Contact],
) -> tuple[list[int | None], dict[int, list[tuple[int, Match]]]]:
    """Fuzzy matching for groups no identity settled: the contact to land on, or possible duplicates.

    A group found only by a shared phone or email under a clearly different name is another person.
    """
    targets: list[int | None] = []
    open_groups: list[int] = []
    for g, (target, kind) in enumerate(exact):
        group_leads = [leads[i] for i in groups[g]]
        if target is not None and kind in SHAREABLE:
            name = next((lead.full_name for lead in group_leads if lead.full_name), "")
            if names_conflict(name, existing[target].full_name):
                target = None
        targets.append(target)
        if target is None and not all(lead.is_anonymous for lead in group_leads):
            open_groups.append(g)
    reviews: dict[int, list[tuple[int, Match]]] = {}
    if not open_groups:
        return targets, reviews
    config = current_config()
    records = [lead_record([leads[i] for i in groups[g]]) for g in open_groups]
    lock_keys(records)
    for g, matches in zip(open_groups, candidates(records, config), strict=True):
        decisions = [(contact_id, match, decide(match, config)) for contact_id, match in matches]
        merge = next((contact_id for contact_id, _, d in decisions if d == "merge"), None)
        if merge is not None:
            targets[g] = merge
        else:
            reviews[g] = [(contact_id, match) for contact_id, match, d in decisions if d == "review"]
    return targets, reviews


def _first_time(group_leads: list[LeadInput], now: datetime) -> datetime:
    return min((lead.occurred_at for lead in group_leads if lead.occurred_at), default=now)


def _last_time(group_leads: list[LeadInput], now: datetime) -> datetime:
    return max((lead.occurred_at for lead in group_leads if lead.occurred_at), default=now)


def _merged_custom(group_leads: list[LeadInput], current: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for lead in group_leads:
        for key, value in lead.custom_fields.items():
            merged.setdefault(key, value)
    return merged


def _fill(contact: Contact, group_leads: list[LeadInput], companies: dict[str, int]) -> list[str]:
    """Fill the contact's empty fields from the leads; return the names of the fields changed."""
    fields: list[str] = []
    for name in FILLABLE:
        if getattr(contact, name) in ("", None):
            value = _merged_value(group_leads, name)
            if value:
                setattr(contact, name, value)
                fields.append(name)
    if "full_name" in fields:
        set_name(contact, contact.full_name)
    company = _merged_value(group_leads, "company")
    if contact.company_id is None and company:
        contact.company_id = companies[company]
        fields.append("company")
    custom = _merged_custom(group_leads, contact.custom_fields)
    if custom != contact.custom_fields:
        contact.custom_fields = custom
        fields.append("custom_fields")
    return fields


def _save_existing(
    existing: dict[int, Contact], changed: dict[int, set[str]], touched: set[int], now: datetime
) -> None:
    """Write the filled fields, grouped so each UPDATE names only the columns it changes."""
    by_fields: dict[frozenset[str], list[Contact]] = {}
    for contact_id in set(changed) | touched:
        contact = existing[contact_id]
        names: set[str] = set(changed.get(contact_id, set()))
        if "full_name" in names:
            names |= set(DERIVED_NAME_FIELDS)
        if "company" in names:
            names = (names - {"company"}) | {"company_id"}
        contact.updated_at = now
        names.add("updated_at")
        if contact_id in touched:
            contact.last_activity_at = max(contact.last_activity_at, now)
            names.add("last_activity_at")
        by_fields.setdefault(frozenset(names), []).append(contact)
    for columns, contacts in by_fields.items():
        bulk_update(contacts, sorted(columns))


def _event_data(lead: LeadInput) -> dict[str, Any]:
    data: dict[str, Any] = dict(lead.event_data)
    attribution = {
        k: getattr(lead, k)
        for k in ("source", "medium", "campaign", "term", "content", "referrer", "landing_url")
        if getattr(lead, k)
    }
    if attribution:
        data["attribution"] = attribution
    # What identified this capture: on unmerge, it goes with the contact that holds these.
    data["identities"] = [f"{kind}:{value}" for kind, value in lead.identity_keys()]
    return data


def _latest(at: datetime) -> Greatest:
    """last_activity_at never moves back when something back-dated is recorded."""
    return Greatest("last_activity_at", Value(at))


def add_note(
    contact: Contact, *, body: str, author: User | None, at: datetime | None = None, deal: Deal | None = None
) -> Note:
    """Add a note; `at` back-dates it (history brought in from another system). With `deal`, the note is on the
    deal's timeline too."""
    body = body.strip()
    if not body:
        raise ValueError("empty note")
    now = at or clock.now()
    with transaction.atomic():
        note = Note.objects.create(contact=contact, body=body, author=author, created_at=now)
        Event.objects.create(
            contact=contact,
            type=Event.Type.NOTE_ADDED,
            at=now,
            data={"note_id": note.pk, "body": body},
            actor=author,
            deal=deal,
        )
        Contact.objects.filter(pk=contact.pk).update(last_activity_at=_latest(now), updated_at=clock.now())
        activity_logged.send(Contact, contact_id=contact.pk, actor=author, at=now)
    return note


ACTIVITIES = {
    "call": Event.Type.CALL_LOGGED,
    "message": Event.Type.MESSAGE_LOGGED,
    "meeting": Event.Type.MEETING_LOGGED,
}
OUTCOMES = {
    "reached": gettext_lazy("Reached"), "no_answer": gettext_lazy("No answer"), "busy": gettext_lazy("Busy, call back"),
    "wrong_number": gettext_lazy("Wrong number"), "sent": gettext_lazy("Sent"), "held": gettext_lazy("Held"),
}  # fmt: skip
MESSAGE_CHANNELS = ("", "email", "sms", "zalo", "facebook")
OUTCOMES_OF = {"call": ("reached", "no_answer", "busy", "wrong_number"), "message": ("sent",), "meeting": ("held",)}


def log_activity(
    contact: Contact,
    *,
    kind: str,
    outcome: str,
    body: str = "",
    actor: User | None,
    channel: str = "",
    deal: Deal | None = None,
) -> Event:
    """Log a call, message or meeting on the timeline; the owner's first one stops the response clock.

    A message names its `channel` (email, sms, zalo, facebook); with `deal` it is on the deal's timeline too.
    """
    if kind not in ACTIVITIES:
        raise ValueError(f"unknown activity {kind!r}")
    if outcome not in OUTCOMES_OF[kind]:
        raise ValueError(f"unknown outcome {outcome!r}")
    if channel not in MESSAGE_CHANNELS or (channel and kind != "message"):
        raise ValueError(f"unknown channel {channel!r}")
    now = clock.now()
    with transaction.atomic():
        event = Event.objects.create(
            contact=contact,
            type=ACTIVITIES[kind],
            at=now,
            actor=actor,
            deal=deal,
            data={"outcome": outcome, "body": body.strip(), **({"channel": channel} if channel else {})},
        )
        Contact.objects.filter(pk=contact.pk).update(last_activity_at=_latest(now), updated_at=now)
        activity_logged.send(Contact, contact_id=contact.pk, actor=actor, at=now)
    return event


def change_stage(
    contact: Contact,
    *,
    to_stage: Stage,
    cause: str,
    actor: User | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> StageChange | None:
    """Move a contact to a stage, recording the move and its cause. No-op when already there.

    Raises StageError when the stage set forbids the move (backward, or a checklist item missing).
    """
    now = at or clock.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().select_related("stage__stage_set").get(pk=contact.pk)
        if locked.stage_id == to_stage.pk:
            return None
        check_move(locked, to_stage)
        change = StageChange.objects.create(
            contact=locked, from_stage_id=locked.stage_id, to_stage=to_stage, cause=cause, reason=reason,
            actor=actor, at=now,
        )  # fmt: skip
        Event.objects.create(
            contact=locked,
            type=Event.Type.STAGE_CHANGED,
            at=now,
            actor=actor,
            data={"from": locked.stage.key, "to": to_stage.key, "cause": cause, "reason": reason},
        )
        Contact.objects.filter(pk=contact.pk).update(
            stage=to_stage, updated_at=clock.now(), last_activity_at=_latest(now)
        )
        sync_attributes([contact.pk])
        contacts_changed.send(Contact, contact_ids=[contact.pk])
        stage_entered.send(Contact, contact_ids=[contact.pk], stage=to_stage)
    contact.stage = to_stage
    return change


EDITABLE = (
    "full_name", "gender", "birth_date", "job_title", "industry", "province", "address", "need",
    "preferred_contact_time",
    "owner_id", "custom_fields",
)  # fmt: skip


def update_contact(contact: Contact, *, changes: dict[str, Any], actor: User | None, source: str = "") -> list[str]:
    """Apply validated field changes; a new email or phone also becomes an identity. Audited."""
    now = clock.now()
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        diff: dict[str, list[Any]] = {}
        for name, value in changes.items():
            if name in ("email", "phone"):
                if value and getattr(locked, name) != value:
                    Identity.objects.create(contact=locked, kind=name, value=value, source=source, created_at=now)
                    diff[name] = [getattr(locked, name), value]
                    setattr(locked, name, value)
                continue
            if name == "tags":
                tag_ids = _tags(set(value))
                locked.tags.set(tag_ids.values())
                diff["tags"] = [None, sorted(value)]
                continue
            if name not in EDITABLE:
                raise ValueError(f"{name} cannot be edited")
            old = getattr(locked, name)
            if old != value:
                diff[name] = [old, value]
                setattr(locked, name, value)
                if name == "full_name":
                    set_name(locked, value)
        if not diff:
            return []
        locked.updated_at = now
        locked.save()
        Event.objects.create(
            contact=locked, type=Event.Type.UPDATED, at=now, actor=actor, source=source,
            data={"changes": {k: [_json(v) for v in pair] for k, pair in diff.items()}},
        )  # fmt: skip
        refresh_keys([locked.pk])
        sync_attributes([locked.pk])
        after_change([locked.pk])
    return sorted(diff)


def tag_contacts(
    contact_ids: Iterable[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    actor: User | None = None,
    source: str = "",
) -> list[int]:
    """Add and remove tags on many contacts at once (journeys, bulk edits); returns the contacts changed.

    Set-based: a few statements whatever the number of contacts. Each change is audited like update_contact's.
    """
    ids = sorted(set(contact_ids))
    added, removed = sorted(set(add)), sorted(set(remove) - set(add))
    if not ids or not (added or removed):
        return []
    now = clock.now()
    through = Contact.tags.through
    with transaction.atomic():
        tag_ids = _tags(set(added))
        before = set(through.objects.filter(contact_id__in=ids, tag__name__in=added + removed)
                     .values_list("contact_id", "tag__name"))  # fmt: skip
        new = [(c, t) for c in ids for t in added if (c, t) not in before]
        gone = [(c, t) for c, t in before if t in removed]
        through.objects.bulk_create([through(contact_id=c, tag_id=tag_ids[t]) for c, t in new], ignore_conflicts=True)
        if gone:
            through.objects.filter(contact_id__in={c for c, _ in gone}, tag__name__in=removed).delete()
        changes: dict[int, dict[str, list[str]]] = {}
        for c, t in new:
            changes.setdefault(c, {"added": [], "removed": []})["added"].append(t)
        for c, t in gone:
            changes.setdefault(c, {"added": [], "removed": []})["removed"].append(t)
        if not changes:
            return []
        changed = sorted(changes)
        Contact.objects.filter(pk__in=changed).update(updated_at=now)
        Event.objects.bulk_create(
            Event(contact_id=c, type=Event.Type.UPDATED, at=now, actor=actor, source=source,
                  data={"changes": {"tags": [sorted(change["removed"]), sorted(change["added"])]}})
            for c, change in changes.items()
        )  # fmt: skip
        sync_attributes(changed)
        after_change(changed)
    return changed


@dataclass(frozen=True)
class EventInput:
    """A behaviour event reported for a known contact (page view, email opened, webinar attended ...)."""

    contact_id: int
    type: str
    at: datetime | None = None
    source: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def record_events(items: Sequence[EventInput], *, actor: User | None = None) -> list[Event]:
    """Append behaviour events to timelines and score them, all in one transaction."""
    now = clock.now()
    with transaction.atomic():
        events = Event.objects.bulk_create(
            Event(contact_id=i.contact_id, type=i.type, at=min(i.at or now, now), source=i.source, data=i.data,
                  actor=actor)
            for i in items
        )  # fmt: skip
        # One UPDATE: each contact's last activity moves to its newest new event, never back.
        newest = Event.objects.filter(pk__in=[e.pk for e in events], contact_id=OuterRef("pk")).order_by("-at")
        Contact.objects.filter(pk__in={e.contact_id for e in events}).update(
            last_activity_at=Greatest("last_activity_at", Subquery(newest.values("at")[:1]))
        )
        score_new_events(events)
        after_change({e.contact_id for e in events})
        events_recorded.send(Contact, events=events)
    return events


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
