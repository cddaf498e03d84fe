"""Realistic Vietnamese leads for the demo data and the benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from nurture.core.normalise import fold

# Weighted roughly like the population (Nguyễn is about 38%).
FAMILY_NAMES = [
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 2), ("Phan", 4.5), ("Vũ", 3.9),
    ("Võ", 2), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5),
]  # fmt: skip
MALE_MIDDLE = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Thanh", "Tuấn", "Công", "Anh", "Xuân"]
FEMALE_MIDDLE = ["Thị", "Thu", "Ngọc", "Thanh", "Minh", "Phương", "Thùy", "Kim", "Hồng", "Mai"]
MALE_GIVEN = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hùng", "Huy", "Khang", "Long", "Minh", "Nam", "Phong",
              "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Hiếu", "Hoàng", "Khoa", "Tài"]  # fmt: skip
FEMALE_GIVEN = ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân",
                "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Vân", "Yến", "Ngọc", "Thư"]  # fmt: skip
MOBILE_PREFIXES = ["32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81", "82", "83",
                   "84", "85", "86", "88", "89", "90", "91", "93", "94", "96", "97", "98"]  # fmt: skip
PROVINCES = [("Hà Nội", 30), ("TP. Hồ Chí Minh", 35), ("Đà Nẵng", 12), ("Hải Phòng", 5), ("Bình Dương", 5),
             ("Đồng Nai", 4), ("Cần Thơ", 3), ("Quảng Nam", 3), ("Bắc Ninh", 3)]  # fmt: skip
NEEDS = [
    "IELTS 6.5 trong 6 tháng", "Tiếng Anh giao tiếp cho người đi làm", "Tiếng Anh cho bé 7 tuổi",
    "Luyện thi TOEIC 750+", "Tiếng Anh thương mại", "Học online buổi tối", "Lớp cuối tuần cho con",
    "Cần tư vấn lộ trình", "Hỏi học phí khóa IELTS", "Đăng ký học thử",
]  # fmt: skip
CONTACT_TIMES = ["Buổi sáng", "Buổi trưa", "Sau 18h", "Cuối tuần", "Giờ hành chính", ""]
SOURCES = [
    ("facebook", "cpc", ["IELTS-thang-9", "Giao-tiep-di-lam", "Tieng-Anh-tre-em-he-2026"], 35),
    ("zalo", "social", ["Zalo-OA-thang-10", "Tieng-Anh-tre-em-he-2026"], 15),
    ("google", "cpc", ["IELTS-thang-9", "TOEIC-cap-toc"], 20),
    ("website", "organic", [""], 12),
    ("hotline", "phone", [""], 8),
    ("referral", "referral", ["Gioi-thieu-ban-be"], 5),
    ("event", "offline", ["Hoi-thao-du-hoc-2026"], 5),
]  # fmt: skip
EMAIL_DOMAINS = ["gmail.com", "gmail.com", "gmail.com", "yahoo.com.vn", "outlook.com", "fpt.com.vn", "vnpt.vn"]


def _weighted(rng: random.Random, items: list[Any]) -> Any:
    return rng.choices(items, weights=[item[-1] for item in items])[0]


def fake_name(rng: random.Random) -> tuple[str, str]:
    gender = rng.choice(["male", "female"])
    family = _weighted(rng, FAMILY_NAMES)[0]
    middle = rng.choice(MALE_MIDDLE if gender == "male" else FEMALE_MIDDLE)
    given = rng.choice(MALE_GIVEN if gender == "male" else FEMALE_GIVEN)
    return f"{family} {middle} {given}", gender


def fake_phone(rng: random.Random) -> str:
    """A mobile number as people type it: 0912..., +84 9..., 84..., dotted, or an old 11-digit one."""
    national = rng.choice(MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=7))
    style = rng.random()
    if style < 0.45:
        return "0" + national
    if style < 0.6:
        return f"0{national[:3]}.{national[3:6]}.{national[6:]}"
    if style < 0.75:
        return f"+84 {national[:2]} {national[2:5]} {national[5:]}"
    if style < 0.85:
        return "84" + national
    return f"0{national[:3]} {national[3:6]} {national[6:]}"


def fake_lead(rng: random.Random) -> dict[str, Any]:
    full_name, gender = fake_name(rng)
    source, medium, campaigns, _weight = _weighted(rng, SOURCES)
    lead: dict[str, Any] = {
        "full_name": full_name if rng.random() > 0.1 else fold(full_name).title(),
        "gender": gender,
        "phone": fake_phone(rng),
        "province": _weighted(rng, PROVINCES)[0],
        "need": rng.choice(NEEDS),
        "preferred_contact_time": rng.choice(CONTACT_TIMES),
        "source": source,
        "medium": medium,
        "campaign": rng.choice(campaigns),
    }
    if rng.random() < 0.55:
        user = fold(full_name).replace(" ", rng.choice([".", "", "_"]))
        lead["email"] = f"{user}{rng.randint(1, 9999)}@{rng.choice(EMAIL_DOMAINS)}"
    if rng.random() < 0.4:
        lead["consents"] = {"sms": rng.random() < 0.8, "zalo": rng.random() < 0.9, "email": rng.random() < 0.7}
    return lead


def fake_leads(n: int, *, seed: int = 2026) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(n):
        yield fake_lead(rng)
