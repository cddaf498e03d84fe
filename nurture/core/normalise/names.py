"""Vietnamese names: family name first, given name last; folded forms for search and matching."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# đ has no decomposition in Unicode, so NFD alone leaves it.
_D = str.maketrans({"đ": "d", "Đ": "d"})


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case, without diacritics, đ -> d, single spaces: "Nguyễn  Văn An" -> "nguyen van an"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D).lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


@dataclass(frozen=True)
class NameParts:
    family: str
    middle: str
    given: str


def clean_name(full_name: str) -> str:
    """NFC, single spaces, and Title Case for names typed all upper or all lower."""
    words = unicodedata.normalize("NFC", full_name).split()
    return " ".join(w.capitalize() if (w.isupper() or w.islower()) else w for w in words)


def split_name(full_name: str) -> NameParts:
    words = clean_name(full_name).split()
    if not words:
        return NameParts("", "", "")
    if len(words) == 1:
        return NameParts("", "", words[0])
    return NameParts(words[0], " ".join(words[1:-1]), words[-1])


def greeting(given: str, gender: str) -> str:
    """How templates greet a person: "anh An", "chị Hương", "bạn An"."""
    title = {"male": "anh", "female": "chị"}.get(gender)
    if not given:
        return title or "anh/chị"
    return f"{title or 'bạn'} {given}"
