"""Phone numbers to E.164, Vietnamese first (including the 2018 renumbering of 11-digit mobiles)."""

from __future__ import annotations

import phonenumbers

from nurture.core.normalise.errors import NormalisationError

# Mobile prefixes renumbered in 2018 (old 4-digit prefix after 0 -> new 3-digit prefix).
OLD_MOBILE_PREFIXES: dict[str, str] = {
    # Viettel
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037", "0168": "038",
    "0169": "039",
    # MobiFone
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    # VinaPhone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    # Vietnamobile
    "0186": "056", "0188": "058",
    # Gmobile
    "0199": "059",
}  # fmt: skip
MOBILE_FIRST_DIGITS = frozenset("35789")
SEPARATORS = str.maketrans("", "", " .-()/\t\u00a0")


def _vn_national(digits: str) -> str | None:
    """The national significant number of a Vietnamese number written with 0, 84, or nothing."""
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif not digits.startswith("0") and len(digits) in (9, 10):
        digits = "0" + digits  # a spreadsheet dropped the leading zero
    if not digits.startswith("0"):
        return None
    if len(digits) == 11 and digits[:4] in OLD_MOBILE_PREFIXES:
        digits = OLD_MOBILE_PREFIXES[digits[:4]] + digits[4:]
    if len(digits) == 10 and digits[1] in MOBILE_FIRST_DIGITS:
        return digits[1:]
    return None


def normalize_phone(raw: str, *, default_region: str = "VN") -> str:
    text = (raw or "").strip()
    if not text:
        raise NormalisationError("phone_empty", "phone number is empty")
    compact = text.translate(SEPARATORS)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isdigit():
        raise NormalisationError("phone_invalid", "a phone number has only digits, spaces, dots, dashes and +")
    if len(digits) < 7:
        raise NormalisationError("phone_too_short", "phone number is too short")
    if len(digits) > 15:
        raise NormalisationError("phone_too_long", "phone number is too long")
    # Fast path for the common Vietnamese mobile forms; everything else goes through phonenumbers.
    if (plus and digits.startswith("84")) or (not plus and default_region == "VN"):
        national = _vn_national(digits if not plus else "0" + digits[2:])
        if national:
            return "+84" + national
    try:
        parsed = phonenumbers.parse(("+" if plus else "") + digits, None if plus else default_region)
    except phonenumbers.NumberParseException as exc:
        raise NormalisationError("phone_invalid", "not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_number(parsed) or default_region
        raise NormalisationError("phone_invalid", f"not a valid phone number for {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_phone_like(text: str) -> bool:
    compact = text.strip().translate(SEPARATORS).lstrip("+")
    return len(compact) >= 6 and compact.isdigit()
