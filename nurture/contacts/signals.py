"""Signals other apps listen to, so contacts need not know them (segments, routing, journeys).

All are sent inside the transaction that made the change, so a listener's writes commit or roll back with it.
"""

from __future__ import annotations

from django.dispatch import Signal

# Contacts were captured or changed; `contact_ids` says which.
contacts_changed = Signal()
# New leads were created by a capture (form, API, import, manual entry), or an anonymous website visitor
# identified itself; `contact_ids`.
contacts_created = Signal()
# Contacts entered a lifecycle stage; `contact_ids`, `stage`.
stage_entered = Signal()
# Someone logged a call, message, meeting or note on a contact; `contact_id`, `actor`, `at`.
activity_logged = Signal()
# Events were appended to timelines (captures, behaviour, messages, tracking); `events`: the Event rows, and
# from a capture `new_contact_ids`: the contacts it created (nothing of theirs can be waiting for an event yet).
events_recorded = Signal()
# Contacts were merged (identity.merge_many, after their rows moved to the survivors); `merges`: the Merge rows.
contacts_merged = Signal()
