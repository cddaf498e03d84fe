"""Deals on leads captured through the real capture; the clock frozen on a Monday morning in Vietnam."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from nurture.accounts.models import User
from nurture.contacts.actions import capture_leads, change_stage
from nurture.contacts.leads import parse_lead
from nurture.contacts.models import Contact, Event
from nurture.lifecycle.actions import set_checklist
from nurture.lifecycle.models import Stage, StageChange
from nurture.sales import actions
from nurture.sales.models import Deal, Pipeline

MONDAY = "2026-03-02 09:00 +07:00"
_phones = count(1)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """The assertions read the English texts; pages and messages are in Vietnamese by default."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def frozen() -> Iterator[Any]:
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def pipeline(db: Any) -> Pipeline:
    return actions.install_presets()


def lead(owner: User | None = None, *, stage: str = "lead", **fields: Any) -> Contact:
    """A lead from a Facebook form, moved to `stage` (SQL with its BANT checklist confirmed)."""
    data = {"full_name": "Trần Thị Hương", "phone": f"0912 000 {next(_phones):03d}", "source": "facebook",
            "campaign": "ielts-tet", **fields}  # fmt: skip
    result = capture_leads([parse_lead(data)], event_type=Event.Type.FORM_SUBMITTED, source_label="form")[0]
    contact = Contact.objects.select_related("stage").get(pk=result.contact_id)
    if owner is not None:
        Contact.objects.filter(pk=contact.pk).update(owner=owner)
        contact.owner = owner
    if stage != "lead":
        bant = {"budget": ("20 triệu", True), "authority": ("Tự quyết", True), "need": ("IELTS 6.5", True)}
        set_checklist(contact, bant, actor=owner)
        target = Stage.objects.get(stage_set__is_active=True, key=stage)
        change_stage(contact, to_stage=target, cause=StageChange.Cause.USER, actor=owner)
    return contact


def deal_for(owner: User, pipeline: Pipeline, *, amount: int = 20_000_000, **fields: Any) -> Deal:
    contact = lead(owner, stage="sql")
    return actions.convert_lead(contact, pipeline=pipeline, title="IELTS 6.5", amount=amount, actor=owner, **fields)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
