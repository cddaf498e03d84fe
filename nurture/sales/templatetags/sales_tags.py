"""`{% contact_sales contact as s %}`: the contact page's deals, open tasks and quick-log form; money filters."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from django import template
from django.template.context import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from nurture.accounts.people import attach as attach_users
from nurture.contacts.models import Contact
from nurture.core.money import DEFAULT_CURRENCY, format_vnd
from nurture.core.templatetags.options import options
from nurture.sales.access import visible_deals
from nurture.sales.board import Column
from nurture.sales.forms import REMINDERS, ActivityForm, people
from nurture.sales.models import Deal, Task

register = template.Library()


@register.filter
def money(amount: int | None, currency: str = DEFAULT_CURRENCY) -> str:
    """15000000 → "15.000.000 ₫"; other currencies keep their code."""
    if amount is None:
        return "—"
    return format_vnd(amount) if currency == DEFAULT_CURRENCY else f"{amount:,} {currency}".replace(",", ".")


CARD = (
    '<article class="deal-card{rotting_class}" draggable="true" tabindex="0" data-deal="{pk}" data-version="{version}"'
    ' data-move-url="{move_url}" aria-label="{title}"><a href="{url}"><strong>{title}</strong></a>'
    '<div class="small">{contact} · {amount}</div><div class="small muted">{owner}{close}</div>{next_step}{rotting}'
    '<form hx-post="{move_url}" hx-target="#board" hx-swap="outerHTML"><input type="hidden" name="version"'
    ' value="{version}"><label class="small muted">{move_to} <select name="stage" aria-label="{move_to}">{options}'
    '</select></label> <button type="submit" class="secondary small">{move}</button></form></article>'
)


def _local(at: datetime, fmt: str) -> str:
    return timezone.localtime(at).strftime(fmt)


@register.simple_tag
def board_cards(columns: list[Column], column: Column, query: str) -> str:
    """A column's cards. Built here with the standard library's escape rather than in a template loop: 250 cards
    through the template engine (or format_html) cost most of the board's time budget (bench/pipeline.py)."""
    stage_options = options([(c.stage.pk, c.stage.name) for c in columns], column.stage.pk)
    labels = {"move_to": escape(_("Move to")), "move": escape(_("Move"))}
    no_step = f'<div class="small muted">{escape(_("No next step"))}</div>'
    rotting_text = _("Rotting: no activity since %(since)s")
    base = reverse("sales:deals")
    query = escape(query)
    cards = []
    for card in column.cards:
        step = no_step
        if card.next_step:
            overdue = " overdue" if card.overdue else ""
            due = _local(card.next_step_due, "%H:%M %d/%m")  # type: ignore[arg-type]
            step = f'<div class="small next-step{overdue}">→ {escape(card.next_step)} · {due}</div>'
        rotting = ""
        if card.rotting:
            since = rotting_text % {"since": _local(card.last_activity_at, "%d/%m")}
            rotting = f'<div class="rotting-flag">⚠ {escape(since)}</div>'
        cards.append(CARD.format(
            pk=card.pk, version=card.version, title=escape(card.title), url=f"{base}{card.pk}/",
            move_url=f"{base}{card.pk}/move?{query}", rotting_class=" rotting" if card.rotting else "",
            contact=escape(card.contact), amount=escape(money(card.amount, card.currency)),
            owner=escape(card.owner) if card.owner else "—",
            close=f" · {card.expected_close:%d/%m/%Y}" if card.expected_close else "", next_step=step, rotting=rotting,
            options=stage_options, **labels,
        ))  # fmt: skip
    return mark_safe("".join(cards))  # every value above is escaped


@register.simple_tag(takes_context=True)
def contact_sales(context: Context, contact: Contact) -> dict[str, Any]:
    request = context["request"]
    deals = attach_users(
        visible_deals(request.user).filter(contact=contact).select_related("stage", "pipeline"), "owner"
    )
    return {
        "deals": deals, "open_deals": [(d.pk, d.title) for d in deals if d.status == Deal.Status.OPEN],
        "tasks": attach_users(contact.sales_tasks.filter(done_at__isnull=True).order_by("due_at")[:10], "assignee"),
        "orders": contact.orders.order_by("-ordered_on", "-id")[:5],
    }  # fmt: skip


@register.simple_tag
def form_choices() -> dict[str, Any]:
    """The choices of the task and quick-log forms, for `options`: a page that includes both forms asks once."""
    return {
        "task_kinds": Task.Kind.choices, "reminders": REMINDERS, "people": [("", _("Me")), *people()],
        "activities": ActivityForm.base_fields["kind"].choices,  # type: ignore[attr-defined]
        "outcomes": ActivityForm.base_fields["outcome"].choices,  # type: ignore[attr-defined]
    }  # fmt: skip
