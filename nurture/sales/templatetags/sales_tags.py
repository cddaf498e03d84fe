"""`{% contact_sales contact as s %}`: the contact page's deals, open tasks and quick-log form; money filters."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.context import Context

from nurture.contacts.models import Contact
from nurture.core.money import DEFAULT_CURRENCY, format_vnd
from nurture.sales.access import visible_deals
from nurture.sales.forms import ActivityForm, TaskForm
from nurture.sales.models import Deal

register = template.Library()


@register.filter
def money(amount: int | None, currency: str = DEFAULT_CURRENCY) -> str:
    """15000000 → "15.000.000 ₫"; other currencies keep their code."""
    if amount is None:
        return "—"
    return format_vnd(amount) if currency == DEFAULT_CURRENCY else f"{amount:,} {currency}".replace(",", ".")


@register.simple_tag(takes_context=True)
def contact_sales(context: Context, contact: Contact) -> dict[str, Any]:
    request = context["request"]
    deals = list(visible_deals(request.user).filter(contact=contact).select_related("stage", "pipeline", "owner"))
    form = ActivityForm()
    form.fields["deal"].choices = [("", "—"), *[(d.pk, d.title) for d in deals if d.status == Deal.Status.OPEN]]  # type: ignore[attr-defined]
    return {
        "deals": deals,
        "tasks": contact.sales_tasks.filter(done_at__isnull=True).select_related("assignee").order_by("due_at")[:10],
        "activity_form": form, "task_form": TaskForm(),
    }  # fmt: skip
