"""Money is stored as integer minor units per currency; VND has none, so 1 unit = 1 đồng."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DEFAULT_CURRENCY = "VND"


def parse_amount(raw: str | int | float | Decimal) -> int:
    """Parse a VND amount as typed in Vietnam: "1.500.000", "1,500,000 đ", "1500000"."""
    if isinstance(raw, int):
        return raw
    text = str(raw).strip().lower()
    for token in ("vnd", "vnđ", "đ", "₫", " "):
        text = text.replace(token, "")
    if not text:
        raise ValueError("empty amount")
    # Both "." and "," are used as thousands separators for đồng, which has no fractional part.
    digits = text.replace(".", "").replace(",", "")
    try:
        return int(Decimal(digits))
    except InvalidOperation as exc:
        raise ValueError(f"{raw!r} is not an amount") from exc


def format_vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"
