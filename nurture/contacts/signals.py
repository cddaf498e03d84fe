"""Signals other apps listen to, so contacts need not know them (segments re-check changed contacts)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that captured or changed contacts; `contact_ids` says which.
contacts_changed = Signal()
