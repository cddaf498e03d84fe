"""Realistic Vietnamese lead records with known duplicates, for `bench/dedup.py --vn`.

One person reaches the business several times (form, Facebook, hotline, an Excel list); each record
varies the way real ones do: the phone written in many formats or as the pre-2018 11-digit number,
diacritics dropped, a typo, the given name first, the middle name dropped, "Anh Tuấn" typed by a
hotline agent, fields missing, another email. Different people share family phones and, very often,
the whole name (family names follow their real frequencies; "Nguyễn Văn Hùng" is everywhere).
Each row has `truth`, the person it belongs to.
"""

from __future__ import annotations

import random
import unicodedata

# Family names with their approximate share of the population.
FAMILY = {
    "Nguyễn": 38, "Trần": 11, "Lê": 9.5, "Phạm": 7, "Hoàng": 4, "Huỳnh": 3, "Phan": 4.5, "Vũ": 2.5, "Võ": 2,
    "Đặng": 2.1, "Bùi": 2, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1, "Lý": 0.5, "Đinh": 0.6, "Trương": 0.6,
}  # fmt: skip
MIDDLE_MALE = ["Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Xuân", "Hoàng"]
MIDDLE_FEMALE = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Kim", "Mỹ"]
GIVEN_MALE = [
    "Hùng", "Hùng", "Tuấn", "Tuấn", "Dũng", "Hải", "Nam", "Huy", "Long", "Sơn", "Thắng", "Minh", "Cường",
    "Phong", "Trung", "Khoa", "Quang", "Đạt", "Bình", "Toàn", "Hiếu", "Phúc", "Lâm", "Vinh", "Tài",
]  # fmt: skip
GIVEN_FEMALE = [
    "Hương", "Hương", "Lan", "Linh", "Linh", "Trang", "Hà", "Hoa", "Mai", "Thảo", "Phương", "Anh", "Ngọc",
    "Nhung", "Yến", "Vy", "Giang", "Hằng", "Thủy", "Loan", "Dung", "Quỳnh", "Nga", "Hạnh", "Oanh",
]  # fmt: skip
# New 3-digit mobile prefix -> the 4-digit one it replaced in 2018 (subset).
OLD_PREFIX = {"032": "0162", "033": "0163", "034": "0164", "035": "0165", "036": "0166", "037": "0167",
              "038": "0168", "039": "0169", "070": "0120", "079": "0121", "077": "0122", "076": "0126",
              "078": "0128", "083": "0123", "084": "0124", "085": "0125", "081": "0127", "082": "0129"}  # fmt: skip
PREFIXES = [*OLD_PREFIX, "090", "091", "093", "094", "096", "097", "098", "086", "088", "089", "056", "058"]
PROVINCES = {
    "Hồ Chí Minh": ["TP.HCM", "Hồ Chí Minh", "TP Hồ Chí Minh", "Sài Gòn", "HCM", "Ho Chi Minh"],
    "Hà Nội": ["Hà Nội", "HN", "Ha Noi", "TP Hà Nội", "Hanoi"],
    "Đà Nẵng": ["Đà Nẵng", "Da Nang", "TP Đà Nẵng"],
    "Hải Phòng": ["Hải Phòng", "Hai Phong"],
    "Cần Thơ": ["Cần Thơ", "Can Tho"],
    "Bình Dương": ["Bình Dương", "Binh Duong", "Tỉnh Bình Dương"],
    "Đồng Nai": ["Đồng Nai", "Dong Nai"],
    "Nghệ An": ["Nghệ An", "Nghe An"],
    "Khánh Hòa": ["Khánh Hòa", "Khanh Hoa"],
}
PROVINCE_WEIGHTS = [35, 30, 8, 6, 4, 6, 5, 3, 3]
STREETS = ["Lê Lợi", "Nguyễn Huệ", "Trần Hưng Đạo", "Hai Bà Trưng", "Lý Thường Kiệt", "Điện Biên Phủ",
           "Cách Mạng Tháng Tám", "Nguyễn Trãi", "Phan Đình Phùng", "Láng Hạ", "Cầu Giấy", "Võ Văn Tần"]  # fmt: skip
COMPANIES = ["Công ty TNHH {} Việt", "Công ty CP {} Group", "{} JSC", "Cty TNHH MTV {}"]
BRANDS = ["Sao Mai", "Hoàng Long", "An Phát", "Minh Phát", "Thành Công", "Đại Việt", "Phú Thịnh", "Kim Long",
          "Tân Hưng", "Bảo Anh", "Việt Tiến", "Hòa Bình", "Nam Á", "Sông Hồng", "Trường Sơn"]  # fmt: skip
DOMAINS = ["gmail.com"] * 6 + ["yahoo.com", "outlook.com", "hotmail.com"]


def strip_accents(text: str) -> str:
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used_phones: set[str] = set()
        self.used_emails: set[str] = set()

    def unique(self, email: str) -> str:
        while email in self.used_emails:
            local, _, domain = email.partition("@")
            email = f"{local}{self.rng.randint(0, 9)}@{domain}"
        self.used_emails.add(email)
        return email

    def phone(self) -> str:
        while True:
            number = self.rng.choice(PREFIXES) + "".join(self.rng.choices("0123456789", k=7))
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def person(self, n: int) -> dict[str, object]:
        rng = self.rng
        female = rng.random() < 0.5
        family = rng.choices(list(FAMILY), weights=list(FAMILY.values()))[0]
        middle = rng.choice(MIDDLE_FEMALE if female else MIDDLE_MALE)
        given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        if rng.random() < 0.03:  # the very common names, thousands of them in a real database
            family, middle, given = ("Nguyễn", "Thị", "Hương") if female else ("Nguyễn", "Văn", "Hùng")
        province = rng.choices(list(PROVINCES), weights=PROVINCE_WEIGHTS)[0]
        slug = strip_accents(given + family).lower().replace(" ", "")
        emails = [self.unique(f"{slug}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}")]
        if rng.random() < 0.3:
            domain = strip_accents(rng.choice(BRANDS)).lower().replace(" ", "")
            emails.append(self.unique(f"{strip_accents(given).lower()}.{strip_accents(family).lower()}@{domain}.vn"))
        return {
            "id": n,
            "family": family,
            "middle": middle,
            "given": given,
            "female": female,
            "phone": self.phone(),
            "emails": emails,
            "province": province,
            "address": f"{rng.randint(1, 399)} {rng.choice(STREETS)}, Phường {rng.randint(1, 15)}",
            "company": rng.choice(COMPANIES).format(rng.choice(BRANDS)) if rng.random() < 0.35 else "",
            "birth_date": f"{rng.randint(1960, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }

    def relative(self, n: int, of: dict[str, object]) -> dict[str, object]:
        """A parent, child or spouse who registers with the family's phone."""
        person = self.person(n)
        if self.rng.random() < 0.7:
            person["family"] = of["family"]
        person["phone"] = of["phone"]
        person["province"] = of["province"]
        if self.rng.random() < 0.5:
            person["address"] = of["address"]
        while person["given"] == of["given"]:
            person["given"] = self.rng.choice(GIVEN_FEMALE if person["female"] else GIVEN_MALE)
        return person

    def phone_text(self, national: str, old_allowed: bool) -> str:
        rng = self.rng
        if old_allowed and national[:3] in OLD_PREFIX and rng.random() < 0.5:
            national = OLD_PREFIX[national[:3]] + national[3:]  # written before the 2018 renumbering
        if rng.random() < 0.02:  # one digit mistyped
            i = rng.randrange(4, len(national))
            national = national[:i] + str((int(national[i]) + 1) % 10) + national[i + 1 :]
        rest = national[1:]
        style = rng.randrange(7)
        return [
            national,
            f"{national[:4]} {national[4:7]} {national[7:]}",
            f"+84{rest}",
            f"84{rest}",
            f"{national[:4]}.{national[4:7]}.{national[7:]}",
            f"+84 {rest[:2]} {rest[2:5]} {rest[5:]}",
            rest,  # Excel dropped the leading zero
        ][style]

    def name_text(self, p: dict[str, object]) -> str:
        rng = self.rng
        family, middle, given = str(p["family"]), str(p["middle"]), str(p["given"])
        roll = rng.random()
        if roll < 0.12:
            name = f"{given} {family} {middle}" if rng.random() < 0.5 else f"{given} {family}"
        elif roll < 0.27:
            name = f"{family} {given}"
        else:
            name = f"{family} {middle} {given}"
        if rng.random() < 0.3:
            name = strip_accents(name)
        if rng.random() < 0.08:  # a typo: a letter dropped or doubled
            i = rng.randrange(1, len(name))
            name = name[:i] + name[i + 1 :] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]
        if rng.random() < 0.15:
            name = name.lower() if rng.random() < 0.5 else name.upper()
        return name

    def record(self, p: dict[str, object], first: bool) -> dict[str, str]:
        rng = self.rng
        hotline = not first and rng.random() < 0.12
        if hotline:  # the agent types an honorific and the given name, and the number
            honorific = "Chị" if p["female"] else "Anh"
            return {"full_name": f"{honorific} {p['given']}", "phone": self.phone_text(str(p["phone"]), True),
                    "email": "", "address": "", "province": "", "company": "", "birth_date": "",
                    "truth": str(p["id"])}  # fmt: skip
        emails = list(p["emails"])  # type: ignore[call-overload]
        has_phone = rng.random() < 0.95  # Vietnamese lead forms nearly always ask for the phone
        has_email = rng.random() < 0.6 or not has_phone
        email = rng.choice(emails) if has_email else ""
        if email and rng.random() < 0.1:
            email = email.upper()
        province = rng.choice(PROVINCES[str(p["province"])]) if rng.random() < 0.6 else ""
        return {
            "full_name": self.name_text(p),
            "phone": self.phone_text(str(p["phone"]), not first) if has_phone else "",
            "email": email,
            "address": str(p["address"]) if rng.random() < 0.3 else "",
            "province": province,
            "company": str(p["company"]) if rng.random() < 0.5 else "",
            "birth_date": str(p["birth_date"]) if rng.random() < 0.2 else "",
            "truth": str(p["id"]),
        }


def generate(people: int, seed: int) -> list[dict[str, str]]:
    """Rows for `people` persons: about 1.9 records each, 8% of them sharing a family phone."""
    gen = Generator(seed)
    rng = gen.rng
    persons: list[dict[str, object]] = []
    while len(persons) < people:
        n = len(persons)
        if persons and rng.random() < 0.08:
            persons.append(gen.relative(n, rng.choice(persons)))
        else:
            persons.append(gen.person(n))
    rows: list[dict[str, str]] = []
    for p in persons:
        copies = rng.choices([1, 2, 3, 4, 5], weights=[45, 25, 15, 10, 5])[0]
        rows.extend(gen.record(p, first=i == 0) for i in range(copies))
    rng.shuffle(rows)
    return [{"id": str(i + 1), **row} for i, row in enumerate(rows)]
