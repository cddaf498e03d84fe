"""Leads posted one by one at the same moment are captured together, in one transaction (flat combining).

Each request queues its lead and waits for the process's capture turn. Whoever gets the turn takes every lead
queued by then, its own included, and captures them together: one pass of matching, scoring, rules and routing
and one commit for all, which costs a fraction of capturing each alone. Then every request answers with its own
lead's result. Alone, a request captures its own lead at once, as before; under load the batches grow by
themselves, so that the cost per lead falls as the rate rises.

A request answers only once its lead is committed. A combined capture takes no savepoint to retry from (two round
trips); if it fails, each of its leads is captured again alone, with the capture's own retry (a parallel capture
that took an identity first), so that a lead that cannot be saved fails only its own request. Inside a
transaction (a caller that has one open, and tests) a lead is captured in it directly: another request's lead
must not commit with it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from nurture.capture.tracking import capture_and_stitch
from nurture.contacts.actions import CaptureResult
from nurture.contacts.leads import LeadInput


@dataclass
class _Request:
    lead: LeadInput
    options: dict[str, Any]
    result: CaptureResult | None = None
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)


_queue: list[_Request] = []
_queue_lock = threading.Lock()
_turn = threading.Lock()  # one combined capture at a time in this process


def capture(lead: LeadInput, **options: Any) -> CaptureResult:
    """Capture one lead (options as capture_and_stitch), combined with the leads other threads post meanwhile."""
    if connection.in_atomic_block:
        return capture_and_stitch([lead], **options)[0]
    request = _Request(lead, options)
    with _queue_lock:
        _queue.append(request)
    with _turn:
        if not request.done.is_set():
            with _queue_lock:
                batch = _queue[:]
                _queue.clear()
            _capture_together(batch)
    if request.error is not None:
        raise request.error
    assert request.result is not None
    return request.result


def _capture_together(batch: list[_Request]) -> None:
    groups: list[list[_Request]] = []  # leads with the same options (source, actor) go in one call
    for request in batch:
        group = next((g for g in groups if g[0].options == request.options), None)
        if group is None:
            groups.append([request])
        else:
            group.append(request)
    try:
        try:
            with transaction.atomic():
                for group in groups:
                    results = capture_and_stitch([r.lead for r in group], retry=False, **group[0].options)
                    for request, result in zip(group, results, strict=True):
                        request.result = result
        except Exception:  # noqa: BLE001 - each lead is tried alone, its own error handed to its request
            for request in batch:  # one at a time: only the lead at fault fails
                try:
                    request.result = capture_and_stitch([request.lead], **request.options)[0]
                except Exception as alone:  # noqa: BLE001 - raised by the request's own thread
                    request.error = alone
    finally:
        for request in batch:
            request.done.set()
