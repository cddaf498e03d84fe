from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from nurture.contacts.actions import OUTCOMES
from nurture.contacts.models import Event
from nurture.core.money import format_vnd

register = template.Library()
CHANNELS = {"email": "Email", "sms": "SMS", "zalo": "Zalo", "facebook": "Facebook"}


@register.simple_tag
def timeline_items(events: Iterable[Event], deal: object = None) -> SafeString:
    """A page of the timeline as <li>s. Built here with the standard library's escape rather than in a template
    loop: 25 rows through the template engine (about 40 nodes each) were the contact page's largest single
    cost (bench/pipeline.py). On a deal's own timeline (`deal` given) the rows do not link to the deal."""
    events = list(events)
    deal_urls = {} if deal else {pk: reverse("sales:deal", args=[pk]) for pk in {e.deal_id for e in events} if pk}
    label = escape(_("deal"))
    rows = []
    for e in events:
        meta = timezone.localtime(e.at).strftime("%d/%m/%Y %H:%M")
        if e.actor:
            meta += f" · {escape(e.actor.display_name)}"
        if e.source:
            meta += f" · {escape(e.source)}"
        if e.deal_id in deal_urls:
            meta += f' · <a href="{deal_urls[e.deal_id]}">{label} #{e.deal_id}</a>'
        summary = event_summary(e)
        rows.append(
            f'<li><strong>{escape(e.type_label)}</strong> <span class="muted small">{meta}</span>'
            + (f"<div>{escape(summary)}</div>" if summary else "")
            + "</li>"
        )
    return mark_safe("".join(rows))  # every value above is escaped


@register.filter
def event_summary(event: Event) -> str:
    """One line saying what this event carried, in the reader's language."""
    data = event.data or {}
    if event.type == Event.Type.NOTE_ADDED:
        return str(data.get("body", ""))
    if event.type == Event.Type.STAGE_CHANGED:
        text = _("%(from)s → %(to)s") % {"from": data.get("from", ""), "to": data.get("to", "")}
        return f"{text}: {data['reason']}" if data.get("reason") else text
    if event.type == Event.Type.UPDATED:
        return ", ".join(sorted(data.get("changes", {})))
    if event.type in (Event.Type.MERGED, Event.Type.UNMERGED):
        if "other_id" in data:
            return _("with %(name)s (#%(id)s)") % {"name": data.get("other_name", ""), "id": data["other_id"]}
        return _("into %(name)s (#%(id)s)") % {"name": data.get("survivor_name", ""), "id": data.get("survivor_id")}
    if event.type == Event.Type.CALL_LOGGED and data.get("direction"):
        return _call_summary(data)
    if data.get("text") or data.get("attachments"):  # a Zalo conversation
        return " ".join([str(data.get("text") or ""), *data.get("attachments", [])]).strip()
    if event.type in (Event.Type.CALL_LOGGED, Event.Type.MESSAGE_LOGGED, Event.Type.MEETING_LOGGED):
        outcome = OUTCOMES.get(data.get("outcome", ""), data.get("outcome", ""))
        head = " · ".join(str(p) for p in (CHANNELS.get(data.get("channel", ""), ""), outcome) if p)
        return f"{head}: {data['body']}" if data.get("body") else head
    if event.type == Event.Type.ORDER_PLACED:
        amount = (
            format_vnd(data.get("amount", 0))
            if data.get("currency") == "VND"
            else f"{data.get('amount')} {data.get('currency')}"
        )
        return " · ".join([amount, *data.get("products", [])])
    if event.type == Event.Type.DEAL_STAGE_CHANGED:
        return _("%(title)s: %(from)s → %(to)s") % {"title": data.get("title", ""), "from": data.get("from", ""),
                                                     "to": data.get("to", "")}  # fmt: skip
    if event.type == Event.Type.DEAL_LOST:
        return " · ".join(str(p) for p in (data.get("title"), data.get("reason"), data.get("note")) if p)
    if event.type in (Event.Type.DEAL_CREATED, Event.Type.DEAL_WON, Event.Type.TASK_CREATED, Event.Type.TASK_DONE):
        return str(data.get("title", ""))
    parts = []
    if data.get("url"):  # a page view: what the visitor read
        parts.append(str(data.get("title") or data["url"]))
    if data.get("form"):
        parts.append(_("form %(name)s") % {"name": data["form"]})
    if data.get("file"):
        parts.append(_("file %(name)s, row %(row)s") % {"name": data["file"], "row": data.get("row", "")})
    attribution = data.get("attribution") or {}
    parts.extend(f"{k}={v}" for k, v in attribution.items() if k in ("source", "medium", "campaign"))
    return " · ".join(parts)


def _call_summary(data: dict[str, object]) -> str:
    parts = [str(_("inbound call") if data["direction"] == "inbound" else _("outbound call"))]
    if data.get("outcome") == "attempted":
        parts.append(str(_("dialled from the lead page")))
    seconds = data.get("duration")
    if isinstance(seconds, int) and seconds > 0:
        parts.append(f"{seconds // 60}:{seconds % 60:02d}")
    elif "duration" in data:
        parts.append(str(_("not answered")))
    if data.get("agent"):
        parts.append(str(_("agent %(name)s") % {"name": data["agent"]}))
    if data.get("recording_url"):
        parts.append(str(_("recording: %(url)s") % {"url": data["recording_url"]}))
    return " · ".join(parts)


@register.simple_tag
def sort_link(current: str, key: str) -> str:
    """The sort to link to from a column header: toggles direction on the current column."""
    return f"-{key}" if current == key else key
