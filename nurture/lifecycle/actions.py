"""Lifecycle state changes: stage sets, which moves are allowed, transition rules, checklists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from nurture.accounts.models import User
from nurture.contacts.conditions import ConditionError, contact_q
from nurture.contacts.models import Contact, Event
from nurture.contacts.signals import contacts_changed, stage_entered
from nurture.core import clock, revisions
from nurture.core.jobs import enqueue_on_commit
from nurture.lifecycle import active
from nurture.lifecycle.checklists import ITEMS, confirmed_q
from nurture.lifecycle.models import ChecklistItem, Stage, StageChange, StageSet, TransitionRule
from nurture.lifecycle.presets import ANONYMOUS_STAGE, DEFAULT_SET, PRESETS

CHUNK = 5000


class StageError(ValueError):
    """A refused lifecycle change; `field` names the input at fault (for forms and the API)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def install_presets() -> None:
    """Create the shipped stage sets if missing; the default set is active when none is."""
    with transaction.atomic():
        for key, preset in PRESETS.items():
            stage_set, created = StageSet.objects.get_or_create(
                key=key,
                defaults={"name_en": preset["name_en"], "name_vi": preset["name_vi"], "backward": preset["backward"]},
            )
            if not created:
                continue
            by_key = {}
            for position, (stage_key, name_en, name_vi, outcome) in enumerate(preset["stages"]):
                by_key[stage_key] = Stage.objects.create(
                    stage_set=stage_set, key=stage_key, name_en=name_en, name_vi=name_vi, position=position,
                    outcome=outcome, requires=preset.get("requires", {}).get(stage_key, []),
                )  # fmt: skip
            for stage_key, targets in preset.get("returns_to", {}).items():
                by_key[stage_key].returns_to.set([by_key[t] for t in targets])
        if not StageSet.objects.filter(is_active=True).exists():
            StageSet.objects.filter(key=DEFAULT_SET).update(is_active=True)
            revisions.bump(active.REVISION)


def install_starter_rules() -> list[TransitionRule]:
    """The default set's starter transition rules (for the demo data and new installs that want them)."""
    install_presets()
    stage_set = StageSet.objects.get(key=DEFAULT_SET)
    stages = {s.key: s for s in stage_set.stages.all()}
    rules = []
    for priority, data in enumerate(PRESETS[DEFAULT_SET].get("rules", []), start=1):
        rule = TransitionRule.objects.create(
            stage_set=stage_set, name=data["name"], conditions=data["conditions"], to_stage=stages[data["to"]],
            priority=priority * 10,
        )  # fmt: skip
        rule.from_stages.set([stages[k] for k in data.get("from", [])])
        rules.append(rule)
    return rules


# --- which moves are allowed ------------------------------------------------------------------------


def backward_allowed(from_stage: Stage, to_stage: Stage) -> bool:
    policy = from_stage.stage_set.backward
    if policy == StageSet.Backward.ANY:
        return True
    if policy == StageSet.Backward.NONE:
        return False
    return from_stage.returns_to.filter(pk=to_stage.pk).exists()


def check_move(contact: Contact, to_stage: Stage) -> None:
    """Refuse a move the configuration forbids: another set, a backward move not allowed, a missing item."""
    if not to_stage.stage_set.is_active:
        raise StageError("stage", _("“%(stage)s” is not in the active stage set.") % {"stage": to_stage.name})
    current = contact.stage
    if current.stage_set_id == to_stage.stage_set_id and to_stage.position < current.position:
        if not backward_allowed(current, to_stage):
            raise StageError(
                "stage",
                _("A contact in “%(from)s” cannot be moved back to “%(to)s” (see the stage set's allowed moves).")
                % {"from": current.name, "to": to_stage.name},
            )
    missing = missing_items(contact.pk, to_stage)
    if missing:
        raise StageError(
            "stage",
            _("“%(stage)s” needs these items confirmed first: %(items)s.")
            % {"stage": to_stage.name, "items": ", ".join(str(ITEMS[i]) for i in missing)},
        )


def missing_items(contact_id: int, stage: Stage) -> list[str]:
    if not stage.requires:
        return []
    done = set(
        ChecklistItem.objects.filter(contact_id=contact_id, item__in=stage.requires, confirmed=True).values_list(
            "item", flat=True
        )
    )
    return [i for i in stage.requires if i not in done]


# --- moving many contacts at once -------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    contact_id: int
    from_stage_id: int | None


def move_many(
    moves: Sequence[Move],
    to_stage: Stage,
    *,
    cause: str,
    rule: TransitionRule | None = None,
    actor: User | None = None,
    reason: str = "",
    timeline: bool = True,
    notify: bool = True,
    at: datetime | None = None,
) -> int:
    """Move contacts to a stage set-based: history rows, timeline events, the stage, the fit scores.

    `notify=False` when the caller tells listeners itself (contacts.actions.after_change).
    """
    from nurture.scoring.actions import sync_attributes

    if not moves:
        return 0
    now = at or clock.now()
    keys: dict[int | None, str] = dict(
        Stage.objects.filter(pk__in={m.from_stage_id for m in moves}).values_list("pk", "key")
    )
    with transaction.atomic():
        for start in range(0, len(moves), CHUNK):
            chunk = moves[start : start + CHUNK]
            ids = [m.contact_id for m in chunk]
            StageChange.objects.bulk_create(
                StageChange(contact_id=m.contact_id, from_stage_id=m.from_stage_id, to_stage=to_stage, cause=cause,
                            reason=reason, rule=rule, actor=actor, at=now)
                for m in chunk
            )  # fmt: skip
            if timeline:
                data = {"to": to_stage.key, "cause": cause, "reason": reason}
                if rule:
                    data["rule"] = rule.name
                Event.objects.bulk_create(
                    Event(contact_id=m.contact_id, type=Event.Type.STAGE_CHANGED, at=now, actor=actor,
                          data={"from": keys.get(m.from_stage_id), **data})
                    for m in chunk
                )  # fmt: skip
            Contact.objects.filter(pk__in=ids).update(stage=to_stage, updated_at=clock.now())
            sync_attributes(ids)
            if notify:
                contacts_changed.send(Contact, contact_ids=ids)
            if cause != StageChange.Cause.SWITCH:  # re-filing under a new set is not reaching a stage
                stage_entered.send(Contact, contact_ids=ids, stage=to_stage)
    return len(moves)


# --- transition rules -------------------------------------------------------------------------------


def validate_rule(data: Mapping[str, Any]) -> None:
    if not str(data.get("name") or "").strip():
        raise StageError("name", _("A rule needs a name."))
    try:
        contact_q(data.get("conditions"))  # type: ignore[arg-type]
    except ConditionError as exc:
        raise StageError("conditions", str(exc)) from exc
    to_stage: Stage = data["to_stage"]
    for stage in data.get("from_stages", []):
        if stage.stage_set_id != to_stage.stage_set_id:
            raise StageError("from_stages", _("“%(stage)s” is in another stage set.") % {"stage": stage.name})
        if stage.pk == to_stage.pk:
            raise StageError("from_stages", _("A rule cannot move contacts to the stage they are in."))
        if stage.position > to_stage.position and not backward_allowed(stage, to_stage):
            raise StageError(
                "from_stages",
                _("The stage set does not allow moving back from “%(from)s” to “%(to)s”.")
                % {"from": stage.name, "to": to_stage.name},
            )


def save_rule(rule: TransitionRule | None, data: Mapping[str, Any]) -> TransitionRule:
    """Create or update a rule, then apply the rules to everyone in the background."""
    validate_rule(data)
    with transaction.atomic():
        rule = rule or TransitionRule(stage_set=data["to_stage"].stage_set)
        for name in ("name", "conditions", "to_stage", "priority", "is_active"):
            if name in data:
                setattr(rule, name, data[name])
        rule.name = rule.name.strip()
        rule.save()
        rule.from_stages.set(data.get("from_stages", []))
        enqueue_on_commit("lifecycle.apply_rules", {"rule_id": rule.pk, "saved_at": clock.now().isoformat()})
    return rule


def delete_rule(rule: TransitionRule) -> None:
    rule.delete()  # the history keeps the rule's name in its reason and timeline


def _rule_q(rule: TransitionRule, stages: dict[int, Stage]) -> Q:
    """Where a rule may move contacts from: its listed stages, or any earlier stage of its set but Anonymous
    (a website visitor becomes a lead by identifying itself, not by the points its page views earn)."""
    target = stages[rule.to_stage_id]
    listed = list(rule.from_stages.all())
    if listed:
        sources = [s.pk for s in listed]
    else:
        sources = [s.pk for s in stages.values() if s.position < target.position and s.key != ANONYMOUS_STAGE]
    return Q(stage_id__in=sources) & confirmed_q(target.requires) & contact_q(rule.conditions)


def apply_rules(contact_ids: Iterable[int] | None = None, *, at: datetime | None = None) -> int:
    """Move the contacts (all when None) whose conditions hold, rule by rule in priority order.

    A contact moved by one rule is looked at again in the next pass, so engagement ≥ 50 → MQL and then
    MQL with a quote request → SQL happen together; passes stop when nothing moves. Returns the moves.
    """
    held = active.current()
    rules = held.rules
    if held.stage_set is None or not rules:
        return 0
    ids = None if contact_ids is None else sorted(set(contact_ids))
    if ids == []:
        return 0
    stages = held.stages
    live = Contact.objects.filter(merged_into__isnull=True)
    if ids is not None:
        live = live.filter(pk__in=ids)
    moved = 0
    for _pass in range(len(stages)):
        moved_now: set[int] = set()
        for rule in rules:
            rows = live.filter(_rule_q(rule, stages)).exclude(pk__in=moved_now).values_list("pk", "stage_id")
            moves = [Move(pk, stage) for pk, stage in rows]
            reason = _("Rule: %(name)s") % {"name": rule.name}
            move_many(moves, stages[rule.to_stage_id], cause=StageChange.Cause.RULE, rule=rule, reason=reason,
                      notify=ids is None, at=at)  # fmt: skip
            moved_now.update(m.contact_id for m in moves)
        if not moved_now:
            break
        moved += len(moved_now)
    return moved


# --- stage sets ---------------------------------------------------------------------------------------


def default_mapping(old: StageSet, new: StageSet) -> dict[int, int]:
    """Old stage → new stage: same key where there is one, otherwise the stage at the same relative place."""
    old_stages = list(old.stages.order_by("position"))
    new_stages = list(new.stages.order_by("position"))
    by_key = {s.key: s for s in new_stages}
    mapping = {}
    for i, stage in enumerate(old_stages):
        same = by_key.get(stage.key)
        if same is None:
            same = new_stages[min(len(new_stages) - 1, i * len(new_stages) // max(1, len(old_stages)))]
        mapping[stage.pk] = same.pk
    return mapping


def activate_set(new: StageSet, mapping: Mapping[int, int], *, actor: User | None) -> int:
    """Make `new` the active stage set, moving every contact along `mapping` (old stage id → new stage id).

    Each moved contact gets a history row (cause "stage set switched"); returns how many moved.
    """
    old = StageSet.objects.filter(is_active=True).first()
    if old is None or old.pk == new.pk:
        raise StageError("stage_set", _("This stage set is already active."))
    new_stages = {s.pk: s for s in new.stages.all()}
    if not new_stages:
        raise StageError("stage_set", _("This stage set has no stages."))
    for stage in old.stages.all():
        target = mapping.get(stage.pk)
        if target not in new_stages:
            raise StageError(
                f"mapping.{stage.key}", _("Choose a stage of “%(set)s” for “%(stage)s”.") % {"set": new, "stage": stage}
            )
    reason = _("Stage set switched to %(set)s") % {"set": new}
    moved = 0
    with transaction.atomic():
        StageSet.objects.filter(pk=old.pk).update(is_active=False)
        StageSet.objects.filter(pk=new.pk).update(is_active=True)
        revisions.bump(active.REVISION)
        for old_id, new_id in mapping.items():
            rows = Contact.objects.filter(stage_id=old_id).values_list("pk", flat=True).iterator(chunk_size=CHUNK)
            moves = [Move(pk, old_id) for pk in rows]
            moved += move_many(
                moves, new_stages[new_id], cause=StageChange.Cause.SWITCH, actor=actor, reason=reason, timeline=False
            )
    return moved


@dataclass
class StageInput:
    key: str
    name_en: str
    name_vi: str
    outcome: str = Stage.Outcome.OPEN
    requires: list[str] | None = None
    returns_to: list[str] | None = None
    pk: int | None = None


def save_stages(stage_set: StageSet, stages: Sequence[StageInput], *, backward: str) -> StageSet:
    """Replace a set's stages with `stages` (in order): rename, reorder, add, remove unused ones."""
    if backward not in StageSet.Backward.values:
        raise StageError("backward", _("Unknown backward-move policy."))
    if not stages:
        raise StageError("stages", _("A stage set needs at least one stage."))
    seen: dict[str, int] = {}
    for i, s in enumerate(stages):
        if not s.key or not s.key.replace("_", "").replace("-", "").isalnum() or not s.key.isascii():
            raise StageError(f"stages.{i}.key", _("Use letters, digits, - and _ for the key."))
        if s.key in seen:
            raise StageError(f"stages.{i}.key", _("The key “%(key)s” is used twice.") % {"key": s.key})
        seen[s.key] = i
        if not s.name_en.strip() or not s.name_vi.strip():
            raise StageError(f"stages.{i}.name", _("Each stage needs an English and a Vietnamese name."))
        if s.outcome not in Stage.Outcome.values:
            raise StageError(f"stages.{i}.outcome", _("Unknown outcome."))
        unknown = [item for item in s.requires or [] if item not in ITEMS]
        if unknown:
            raise StageError(f"stages.{i}.requires", _("Unknown checklist item: %(item)s") % {"item": unknown[0]})
        earlier = {st.key for st in stages[:i]}
        if any(k not in earlier for k in s.returns_to or []):
            raise StageError(f"stages.{i}.returns_to", _("A stage can only return to an earlier stage."))
    existing = {s.pk: s for s in stage_set.stages.all()}
    with transaction.atomic():
        kept = {s.pk for s in stages if s.pk in existing}
        for pk, stage in existing.items():
            if pk not in kept:
                in_use = (
                    Contact.objects.filter(stage=stage).exists()
                    or StageChange.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).exists()
                )
                if in_use:
                    raise StageError("stages", _("“%(stage)s” has contacts or history; move them first.") % {
                        "stage": stage.name
                    })  # fmt: skip
                stage.delete()
        # Keys may be swapped: park them on unique placeholders first (one key per set at any moment).
        for pk in kept:
            Stage.objects.filter(pk=pk).update(key=f"~{pk}")
        revisions.bump(active.REVISION)
        saved: dict[str, Stage] = {}
        for position, s in enumerate(stages):
            stage = existing.get(s.pk or -1) or Stage(stage_set=stage_set)
            stage.key, stage.name_en, stage.name_vi = s.key, s.name_en.strip(), s.name_vi.strip()
            stage.position, stage.outcome, stage.requires = position, s.outcome, list(s.requires or [])
            stage.save()
            saved[s.key] = stage
        for s in stages:
            saved[s.key].returns_to.set([saved[k] for k in s.returns_to or []])
        stage_set.backward = backward
        stage_set.save(update_fields=["backward"])
    return stage_set


# --- checklists -------------------------------------------------------------------------------------


def set_checklist(
    contact: Contact, items: Mapping[str, tuple[str, bool]], *, actor: User | None
) -> list[ChecklistItem]:
    """Record checklist items (item → (value, confirmed)); a newly confirmed item notes who and when.

    Confirming items may let a transition rule move the contact (SQL needs BANT), so the rules run after.
    """
    unknown = [k for k in items if k not in ITEMS]
    if unknown:
        raise StageError(unknown[0], _("Unknown checklist item."))
    now = clock.now()
    with transaction.atomic():
        current = {c.item: c for c in ChecklistItem.objects.select_for_update().filter(contact=contact)}
        changed = []
        for item, (value, confirmed) in items.items():
            row = current.get(item) or ChecklistItem(contact=contact, item=item)
            if row.value == value and row.confirmed == confirmed:
                continue  # unchanged, or an empty item never filled in
            if confirmed and not row.confirmed:
                row.confirmed_by, row.confirmed_at = actor, now
            if not confirmed:
                row.confirmed_by, row.confirmed_at = None, None
            row.value, row.confirmed = value, confirmed
            row.save()
            changed.append(row)
        if changed:
            Event.objects.create(
                contact=contact, type=Event.Type.UPDATED, at=now, actor=actor,
                data={"checklist": {r.item: {"value": r.value, "confirmed": r.confirmed} for r in changed}},
            )  # fmt: skip
            apply_rules([contact.pk])
            contacts_changed.send(Contact, contact_ids=[contact.pk])
    return changed
