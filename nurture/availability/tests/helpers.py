from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from nurture.accounts.models import User
from nurture.availability import actions
from nurture.availability.models import Leave

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    """ "2026-03-02 09:00" in Asia/Ho_Chi_Minh."""
    return datetime.fromisoformat(text).replace(tzinfo=HCM)


def leave(user: User, starts: str, ends: str, reason: str = "") -> Leave:
    return actions.add_leave(user, local(starts), local(ends), reason, actor=None)
