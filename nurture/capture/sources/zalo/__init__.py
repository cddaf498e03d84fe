"""Zalo Official Account: `oa` (webhook events to leads and timelines) and `tokens` (the shared token store,
imported by messaging too, so this package itself imports nothing)."""
