"""The stage sets shipped with Nurture, from the seeds summarised in DOMAIN.md.

Each stage: (key, English name, Vietnamese name, outcome). The first set is active on a new install.
`returns_to` lists the backward moves a set allows, `requires` the checklist items a stage needs, and
`rules` the starter transition rules (installed with the demo data; conditions as in contacts/conditions.py).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "lead_lifecycle": {
        "name_en": "Lead life cycle",
        "name_vi": "Vòng đời khách hàng tiềm năng",
        "backward": "listed",
        "stages": [
            ("anonymous", "Anonymous", "Ẩn danh", "open"),
            ("lead", "Lead", "Khách hàng tiềm năng", "open"),
            ("mql", "MQL", "MQL", "open"),
            ("sql", "SQL", "SQL", "open"),
            ("sqo", "SQO", "SQO", "open"),
            ("customer", "Customer", "Khách hàng", "won"),
            ("repeat_customer", "Repeat customer", "Khách hàng mua lại", "won"),
            ("lost", "Lost", "Không thành công", "lost"),
        ],
        # A lost lead returns to nurturing; sales may hand a lead back to marketing.
        "returns_to": {"lost": ["lead", "mql"], "sql": ["mql", "lead"], "sqo": ["sql"], "mql": ["lead"]},
        "requires": {"sql": ["budget", "authority", "need"]},
        "rules": [
            {
                "name": "Engaged: engagement ≥ 50 → MQL",
                "conditions": {"field": "engagement_score", "op": "gte", "value": 50},
                "to": "mql",
            },
            {
                "name": "Asked for a quote and BANT confirmed → SQL",
                "conditions": {
                    "all": [
                        {"event": "quote_requested", "within_days": 90},
                        {"field": "bant_complete", "op": "eq", "value": True},
                    ]
                },
                "to": "sql",
            },
            {
                "name": "A lost lead fills in a form again → Lead",
                "conditions": {"event": "form_submitted", "within_days": 1},
                "to": "lead",
                "from": ["lost"],
            },
        ],
    },
    "seven_steps": {
        "name_en": "7-step nurturing",
        "name_vi": "7 bước nuôi dưỡng",
        "backward": "none",
        "stages": [
            ("niche", "Niche", "Thị trường ngách", "open"),
            ("leads", "Leads", "Khách hàng tiềm năng", "open"),
            ("buyers", "Buyers", "Người mua", "won"),
            ("customers", "Customers", "Khách hàng", "won"),
            ("members", "Members", "Thành viên", "won"),
            ("loyal", "Loyal customers", "Khách hàng trung thành", "won"),
            ("referral", "Referral", "Giới thiệu", "won"),
        ],
    },
    "six_stages": {
        "name_en": "6 customer stages",
        "name_vi": "6 giai đoạn khách hàng",
        "backward": "any",
        "stages": [
            ("awareness", "Awareness", "Nhận biết", "open"),
            ("consideration", "Consideration", "Cân nhắc", "open"),
            ("conversion", "Conversion", "Chuyển đổi", "won"),
            ("experience", "Experience", "Trải nghiệm", "won"),
            ("retention", "Retention", "Giữ chân", "won"),
            ("advocacy", "Advocacy", "Ủng hộ", "won"),
        ],
    },
}
DEFAULT_SET = "lead_lifecycle"
# Where a newly identified lead starts, and where an anonymous visitor sits, in the default set.
ENTRY_STAGE = "lead"
ANONYMOUS_STAGE = "anonymous"
