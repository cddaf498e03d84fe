"""The matching engine: blocking keys and a field-by-field match score for two person records.

Pure functions over `Record`, so the capture action, the batch clean-up and the benchmarks share one
engine; finding candidates in the database lives in `candidates.py`.

The score is a Fellegi-Sunter style sum: a field that agrees adds its weight, one that disagrees
subtracts, a field missing on either side says nothing. `score = 100 / (1 + 2^-(sum - prior))`, so a
single agreeing name (weight 5 against a prior of 8) stays far below any threshold: very common
Vietnamese names never merge on the name alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import OSA, Levenshtein
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio

from nurture.core.normalise import fold

# (agree, partial, disagree) weights; a weight is a log2 likelihood ratio, roughly.
DEFAULT_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "name": (5.0, 2.5, -7.0),
    "phone": (10.0, 4.0, -2.0),
    "email": (10.0, 5.0, -1.5),
    "external_id": (10.0, 5.0, -6.0),
    "birth_date": (6.0, 2.5, -6.0),
    "address": (4.5, 1.5, -2.0),
    "province": (1.0, 0.0, -1.5),
    "company": (2.5, 1.0, 0.0),
}
# Words a hotline agent types before a name ("anh Tuấn", "chị Hương"): not part of the name.
HONORIFICS = frozenset({"anh", "chi", "em", "co", "chu", "bac", "ong", "ba", "a", "c", "mr", "mrs", "ms", "miss"})
PROVINCE_ALIASES = {
    "hcm": "ho chi minh", "tphcm": "ho chi minh", "tp hcm": "ho chi minh", "sai gon": "ho chi minh",
    "saigon": "ho chi minh", "sg": "ho chi minh", "hn": "ha noi", "hanoi": "ha noi", "dn": "da nang",
    "hp": "hai phong", "ct": "can tho", "brvt": "ba ria vung tau", "vung tau": "ba ria vung tau",
}  # fmt: skip
PROVINCE_PREFIX = re.compile(r"^(thanh pho|tp|tinh|t)\s+")
PUNCT = re.compile(r"[^\w\s]")
NAME_KEYS = ("n:", "nf:", "tb:", "na:")


@dataclass(frozen=True)
class MatchConfig:
    auto_merge: float = 90.0
    review: float = 60.0
    prior: float = 7.0
    # A blocking key shared by more records than this is too common to compare on; keys made of
    # name words get a smaller cap, as a name is the weakest evidence and the most repeated.
    block_cap: int = 50
    name_block_cap: int = 10

    def cap(self, key: str) -> int:
        return self.name_block_cap if key.startswith(NAME_KEYS) else self.block_cap

    weights: Mapping[str, tuple[float, float, float]] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))


@dataclass(frozen=True)
class Record:
    """What matching knows of a person: folded, normalised values."""

    id: Any
    name: str = ""
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    external_ids: frozenset[str] = frozenset()
    address: str = ""
    province: str = ""
    company: str = ""
    birth_date: str = ""

    @classmethod
    def build(
        cls,
        id: Any,
        *,
        name: str = "",
        phones: Iterable[str] = (),
        emails: Iterable[str] = (),
        external_ids: Iterable[str] = (),
        address: str = "",
        province: str = "",
        company: str = "",
        birth_date: date | str | None = None,
    ) -> Record:
        return cls(
            id=id,
            name=match_name(name),
            phones=frozenset(p for p in phones if p),
            emails=frozenset(e for e in emails if e),
            external_ids=frozenset(x for x in external_ids if x),
            address=_clean(address),
            province=canonical_province(province),
            company=_company(company),
            birth_date=birth_date.isoformat() if isinstance(birth_date, date) else (birth_date or ""),
        )


@dataclass(frozen=True)
class Reason:
    field: str
    level: str  # agree | partial | disagree
    points: float


@dataclass(frozen=True)
class Match:
    score: float
    reasons: tuple[Reason, ...]

    def reasons_json(self) -> list[dict[str, Any]]:
        return [{"field": r.field, "level": r.level, "points": r.points} for r in self.reasons]


def _clean(text: str) -> str:
    return " ".join(PUNCT.sub(" ", fold(text)).split())


@lru_cache(maxsize=65536)
def match_name(name: str) -> str:
    """Folded name without honorifics: "Anh Tuấn" -> "tuan", "Nguyễn Văn Hùng" -> "nguyen van hung"."""
    tokens = _clean(name).split()
    while len(tokens) > 1 and tokens[0] in HONORIFICS:
        tokens = tokens[1:]
    return " ".join(tokens)


@lru_cache(maxsize=4096)
def canonical_province(text: str) -> str:
    folded = _clean(text)
    folded = PROVINCE_ALIASES.get(folded, folded)
    folded = PROVINCE_PREFIX.sub("", folded)
    return PROVINCE_ALIASES.get(folded, folded)


_COMPANY_WORDS = re.compile(r"\b(cong ty|cty|tnhh|co phan|cp|jsc|ltd|co|llc|mtv|tap doan)\b")


def _company(text: str) -> str:
    return " ".join(_COMPANY_WORDS.sub(" ", _clean(text)).split())


def blocking_keys(record: Record) -> set[str]:
    """Keys under which two records of one person likely meet; only records sharing a key are compared."""
    keys = {f"p:{p}" for p in record.phones}
    keys.update(f"p6:{p[-6:]}" for p in record.phones if len(p) >= 9)
    for email in record.emails:
        keys.add(f"e:{email}")
        local = email.partition("@")[0]
        if len(local) >= 4:
            keys.add(f"l:{local}")
    keys.update(f"x:{x}" for x in record.external_ids)
    tokens = record.name.split()
    if len(tokens) >= 2:
        keys.add("n:" + " ".join(sorted(tokens)))
        keys.add("nf:" + " ".join(sorted((tokens[0], tokens[-1]))))
    if record.birth_date:
        keys.add(f"b:{record.birth_date}")
        keys.update(f"tb:{t[:3]}|{record.birth_date[:4]}" for t in tokens if len(t) > 1)
    numbers = [t for t in record.address.split() if t.isdigit()]
    if numbers:
        keys.add("a:" + " ".join(numbers))
    if tokens and record.address:
        keys.add(f"na:{tokens[-1][:4]}|{record.address.split()[-1]}")
    return keys


def _phones(a: frozenset[str], b: frozenset[str]) -> str:
    if a & b:
        return "agree"
    if any(len(x) == len(y) and Levenshtein.distance(x, y) <= 1 for x in a for y in b):
        return "partial"
    return "disagree"


def _emails(a: frozenset[str], b: frozenset[str]) -> str:
    if a & b:
        return "agree"
    for x in a:
        for y in b:
            if _local(x) == _local(y) or Levenshtein.distance(x, y) <= 1:
                return "partial"
    return "disagree"


def _local(email: str) -> str:
    """The part before @ without dots, dashes and underscores: khoa.do@abc.vn ~ khoado@gmail.com."""
    return re.sub(r"[._-]", "", email.partition("@")[0])


def _ids(a: frozenset[str], b: frozenset[str]) -> str:
    if a & b:
        return "agree"
    if any(OSA.distance(x, y) <= 1 for x in a for y in b):  # one typo or two digits swapped
        return "partial"
    return "disagree"


def _close(a: str, b: str) -> bool:
    """One word for the other with a letter dropped or doubled, or cut off ("Ng" for "Nga").

    A changed or swapped letter only in long words: Vinh and Linh, Trang and Trung are different names.
    """
    if len(a) < 2 or len(b) < 2:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    if len(a) != len(b):
        return abs(len(a) - len(b)) == 1 and min(len(a), len(b)) >= 3 and Levenshtein.distance(a, b) == 1
    return len(a) >= 6 and OSA.distance(a, b) == 1


def _covers(long: list[str], short: list[str]) -> bool:
    """Every word of `short` pairs with its own word of `long`, exact ones first."""
    rest = list(long)
    pending = []
    for token in short:
        if token in rest:
            rest.remove(token)
        else:
            pending.append(token)
    for token in pending:
        found = next((t for t in rest if _close(token, t)), None)
        if found is None:
            return False
        rest.remove(found)
    return True


def _names(a: str, b: str) -> str:
    """Vietnamese names: the given name (last word) tells people apart, the family name rarely does.

    Word order varies ("Hùng Nguyễn Văn") and the middle name is often dropped, so the comparison is
    on words, not on the string: a shared "nguyen van " prefix makes a high Jaro-Winkler for two
    different people.
    """
    ta, tb = a.split(), b.split()
    if len(ta) == 1 or len(tb) == 1:
        # A bare given name ("Tuấn" typed by the hotline) can only support other evidence.
        short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
        return "partial" if _covers(long, short) else "disagree"
    if token_sort_ratio(a, b) >= 97:
        return "agree"
    # Every word of the shorter name is in the longer one: reordered, the middle name dropped, a typo.
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    if _covers(long, short):
        return "partial"
    return "disagree"


def _dates(a: str, b: str) -> str:
    if a == b:
        return "agree"
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if (ya, ma, da) == (yb, db, mb) or Levenshtein.distance(a, b) <= 1:
        return "partial"
    return "disagree" if sum(x != y for x, y in ((ya, yb), (ma, mb), (da, db))) > 1 else "partial"


def _texts(a: str, b: str, agree: float, partial: float) -> str:
    sim = token_set_ratio(a, b) / 100
    if sim >= agree:
        return "agree"
    return "partial" if sim >= partial else "disagree"


def _levels(a: Record, b: Record) -> Iterator[tuple[str, str]]:
    if a.name and b.name:
        yield "name", _names(a.name, b.name)
    if a.phones and b.phones:
        yield "phone", _phones(a.phones, b.phones)
    if a.emails and b.emails:
        yield "email", _emails(a.emails, b.emails)
    if a.external_ids and b.external_ids:
        yield "external_id", _ids(a.external_ids, b.external_ids)
    if a.birth_date and b.birth_date:
        yield "birth_date", _dates(a.birth_date, b.birth_date)
    if a.address and b.address:
        yield "address", _texts(a.address, b.address, 0.9, 0.7)
    if a.province and b.province:
        yield "province", "agree" if a.province == b.province else "disagree"
    if a.company and b.company:
        yield "company", _texts(a.company, b.company, 0.9, 0.75)


LEVEL_INDEX = {"agree": 0, "partial": 1, "disagree": 2}


def compare(a: Record, b: Record, config: MatchConfig) -> Match:
    reasons = []
    total = 0.0
    for name, level in _levels(a, b):
        points = config.weights[name][LEVEL_INDEX[level]]
        total += points
        reasons.append(Reason(name, level, points))
    score = 100 / (1 + 2 ** -(total - config.prior))
    return Match(round(score, 1), tuple(sorted(reasons, key=lambda r: -abs(r.points))))


def learn_weights(
    pairs: Iterable[tuple[Record, Record]],
    base: MatchConfig,
    iterations: int = 50,
) -> MatchConfig:
    """Fit the weights and prior to candidate pairs by expectation-maximisation, no labels needed.

    The Fellegi-Sunter EM (as recordlinkage's ECM and Splink do): each field level gets m = P(level |
    same person) and u = P(level | different people); the weight is log2(m / u), the prior
    log2(P(different) / P(same)) among candidate pairs, so the score is the posterior probability.
    """
    patterns = Counter(tuple(_levels(a, b)) for a, b in pairs)
    fields = list(DEFAULT_WEIGHTS)
    m = {f: [0.9, 0.07, 0.03] for f in fields}
    u = {f: [0.05, 0.1, 0.85] for f in fields}
    p = 0.1
    for _ in range(iterations):
        sum_m = {f: [0.0, 0.0, 0.0] for f in fields}
        sum_u = {f: [0.0, 0.0, 0.0] for f in fields}
        matched = 0.0
        for pattern, count in patterns.items():
            same, different = p, 1 - p
            for name, level in pattern:
                same *= m[name][LEVEL_INDEX[level]]
                different *= u[name][LEVEL_INDEX[level]]
            g = same / (same + different)
            matched += g * count
            for name, level in pattern:
                sum_m[name][LEVEL_INDEX[level]] += g * count
                sum_u[name][LEVEL_INDEX[level]] += (1 - g) * count
        total = sum(patterns.values())
        p = min(max(matched / total, 1e-6), 1 - 1e-6) if total else p
        for name in fields:
            for probs, sums in ((m[name], sum_m[name]), (u[name], sum_u[name])):
                seen = sum(sums)
                if seen:
                    probs[:] = [max(s / seen, 1e-4) for s in sums]
    observed = {name for pattern in patterns for name, _ in pattern}
    weights: dict[str, tuple[float, float, float]] = {
        f: _log_ratios(m[f], u[f]) if f in observed else DEFAULT_WEIGHTS[f] for f in fields
    }
    return replace(base, prior=round(math.log2((1 - p) / p), 2), weights=weights)


def _log_ratios(m: list[float], u: list[float]) -> tuple[float, float, float]:
    agree, partial, disagree = (round(math.log2(a / b), 2) for a, b in zip(m, u, strict=True))
    return agree, partial, disagree


# Fields that can carry a merge; a name, province or company alone never does.
STRONG_FIELDS = frozenset({"phone", "email", "external_id", "birth_date", "address"})


def decide(match: Match, config: MatchConfig) -> str:
    """merge (same person), review (possible duplicate) or new (different people)."""
    levels = {r.field: r.level for r in match.reasons}
    strong = [f for f in STRONG_FIELDS if levels.get(f, "disagree") != "disagree"]
    # Different names on a shared phone, email or address are two people (a parent and a child, a
    # couple); only the same external id or birth date outweighs the names.
    if levels.get("name") == "disagree":
        strong = [f for f in ("external_id", "birth_date") if levels.get(f) == "agree"]
    if match.score >= config.auto_merge and strong:
        return "merge"
    return "review" if match.score >= config.review else "new"


def names_conflict(a: str, b: str) -> bool:
    """Two names that are clearly different people (parent and child sharing one phone)."""
    a, b = match_name(a), match_name(b)
    return bool(a and b) and _names(a, b) == "disagree"


def candidate_pairs(records: Iterable[Record], config: MatchConfig) -> set[tuple[int, int]]:
    """Index pairs of records sharing a blocking key whose block is within its cap."""
    blocks: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        for key in blocking_keys(record):
            blocks.setdefault(key, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for key, members in blocks.items():
        if 1 < len(members) <= config.cap(key):
            pairs.update((x, y) for n, x in enumerate(members) for y in members[n + 1 :])
    return pairs


def clusters(n: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Cluster label per record index: the connected components of the matched pairs."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, y in pairs:
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return [root(i) for i in range(n)]
