"""The stage sets shipped with Nurture, from the seeds summarised in DOMAIN.md.

Each stage: (key, English name, Vietnamese name). The first set is active on a new install.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, object]] = {
    "lead_lifecycle": {
        "name_en": "Lead life cycle",
        "name_vi": "Vòng đời khách hàng tiềm năng",
        "stages": [
            ("anonymous", "Anonymous", "Ẩn danh"),
            ("lead", "Lead", "Khách hàng tiềm năng"),
            ("mql", "MQL", "MQL"),
            ("sql", "SQL", "SQL"),
            ("sqo", "SQO", "SQO"),
            ("customer", "Customer", "Khách hàng"),
            ("repeat_customer", "Repeat customer", "Khách hàng mua lại"),
        ],
    },
    "seven_steps": {
        "name_en": "7-step nurturing",
        "name_vi": "7 bước nuôi dưỡng",
        "stages": [
            ("niche", "Niche", "Thị trường ngách"),
            ("leads", "Leads", "Khách hàng tiềm năng"),
            ("buyers", "Buyers", "Người mua"),
            ("customers", "Customers", "Khách hàng"),
            ("members", "Members", "Thành viên"),
            ("loyal", "Loyal customers", "Khách hàng trung thành"),
            ("referral", "Referral", "Giới thiệu"),
        ],
    },
    "six_stages": {
        "name_en": "6 customer stages",
        "name_vi": "6 giai đoạn khách hàng",
        "stages": [
            ("awareness", "Awareness", "Nhận biết"),
            ("consideration", "Consideration", "Cân nhắc"),
            ("conversion", "Conversion", "Chuyển đổi"),
            ("experience", "Experience", "Trải nghiệm"),
            ("retention", "Retention", "Giữ chân"),
            ("advocacy", "Advocacy", "Ủng hộ"),
        ],
    },
}
DEFAULT_SET = "lead_lifecycle"
# Where a newly identified lead starts, and where an anonymous visitor sits, in the default set.
ENTRY_STAGE = "lead"
ANONYMOUS_STAGE = "anonymous"
