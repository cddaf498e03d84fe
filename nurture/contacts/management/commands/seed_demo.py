from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from nurture.accounts.models import Team, User
from nurture.capture.actions import CostInput, record_costs, save_campaign, save_lead_form
from nurture.capture.models import Campaign, LeadForm
from nurture.contacts.actions import EventInput, add_note, capture_leads, change_stage, record_events
from nurture.contacts.fake import fake_lead, fake_name
from nurture.contacts.leads import LeadInput, parse_lead
from nurture.contacts.models import Contact, Event
from nurture.core import clock
from nurture.core.normalise import fold
from nurture.lifecycle.actions import install_presets, set_checklist
from nurture.lifecycle.actions import install_starter_rules as install_transition_rules
from nurture.lifecycle.models import Stage, StageChange
from nurture.routing.actions import save_policy
from nurture.routing.actions import save_rule as save_routing_rule
from nurture.routing.models import AssignmentRule
from nurture.sales.actions import NextStep, add_task, create_deal, mark_lost, mark_won, move_deal
from nurture.sales.actions import install_presets as install_sales_presets
from nurture.sales.actions import log_activity as log_deal_activity
from nurture.sales.models import Deal, LostReason
from nurture.scoring.actions import install_starter_rules

BRANCHES = [
    ("Hà Nội – Cầu Giấy", ["Hà Nội", "Hải Phòng", "Bắc Ninh"]),
    ("TP.HCM – Quận 3", ["TP. Hồ Chí Minh", "Bình Dương", "Đồng Nai", "Cần Thơ"]),
    ("Đà Nẵng – Hải Châu", ["Đà Nẵng", "Quảng Nam"]),
]
# Share of contacts that reached at least each stage: a realistic funnel.
FUNNEL = [("mql", 0.30), ("sql", 0.12), ("sqo", 0.06), ("customer", 0.04), ("repeat_customer", 0.01)]
NOTES = [
    "Đã gọi, khách hẹn gọi lại sau 18h.", "Khách quan tâm lớp cuối tuần, gửi lịch khai giảng qua Zalo.",
    "Phụ huynh muốn cho bé học thử trước.", "Đã gửi báo giá khóa IELTS 6.5.", "Không nghe máy, gửi SMS.",
    "Khách đang so sánh với trung tâm khác, cần ưu đãi.", "Đã test đầu vào: 5.0, tư vấn lộ trình 6 tháng.",
]  # fmt: skip
ENGAGEMENT = [
    ("page_viewed", {"url": "https://saomai.edu.vn/bang-gia"}), ("page_viewed", {"url": "https://saomai.edu.vn/blog"}),
    ("page_viewed", {"url": "https://saomai.edu.vn/khoa-hoc/ielts"}), ("email_opened", {"campaign": "tet-2026"}),
    ("email_opened", {"campaign": "newsletter"}), ("webinar_attended", {"topic": "IELTS 7.0"}),
    ("unsubscribed", {"channel": "email"}), ("quote_requested", {"course": "IELTS 6.5"}),
]  # fmt: skip
DEMO_BANT = {"budget": ("15–20 triệu", True), "authority": ("Phụ huynh quyết định", True),
             "need": ("IELTS 6.5 trong 6 tháng", True)}  # fmt: skip
LOST_REASONS = ["Chọn trung tâm khác", "Học phí cao", "Chưa có nhu cầu", "Không liên lạc được"]
COURSES = [("IELTS 6.5", 18_500_000), ("Giao tiếp", 9_000_000), ("Tiếng Anh trẻ em", 12_000_000),
           ("TOEIC 750", 7_500_000)]  # fmt: skip
NEXT_STEPS = ["Gọi lại tư vấn lộ trình", "Gửi báo giá qua Zalo", "Hẹn học thử thứ Bảy", "Chốt lịch khai giảng"]
DEMO_PASSWORD = "nurture-demo"
BATCH = 1000

# (utm_campaign, channel, utm_source, utm_medium, cost a month in VND): the paid campaigns of contacts/fake.py
DEMO_CAMPAIGNS = [
    ("IELTS-thang-9", "facebook", "facebook", "cpc", 45_000_000),
    ("Giao-tiep-di-lam", "facebook", "facebook", "cpc", 25_000_000),
    ("Tieng-Anh-tre-em-he-2026", "facebook", "facebook", "cpc", 30_000_000),
    ("Zalo-OA-thang-10", "zalo", "zalo", "social", 8_000_000),
    ("TOEIC-cap-toc", "google_ads", "google", "cpc", 20_000_000),
]


class Command(BaseCommand):
    help = "Load demo data: an English-language centre with three branches and about 5,000 leads."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--contacts", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--force", action="store_true", help="Add demo data even if contacts exist.")

    def handle(self, *args: Any, **options: Any) -> None:
        if Contact.objects.exists() and not options["force"]:
            self.stdout.write("Contacts exist already; nothing loaded (use --force to add demo data anyway).")
            return
        started = time.monotonic()
        rng = random.Random(options["seed"])
        install_presets()
        reps_by_province = self._users(rng)
        self._forms()
        install_starter_rules()
        contact_ids = self._contacts(rng, options["contacts"])
        self._owners(rng, contact_ids, reps_by_province)
        self._funnel(rng, contact_ids)
        install_transition_rules()  # from here on, engagement moves leads along (engagement ≥ 50 → MQL)
        self._engagement(rng, contact_ids)
        self._routing()
        self._campaigns()
        self._sales(rng)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: {User.objects.count()} users, {Contact.objects.count()} contacts, "
                f"{Event.objects.count()} events in {time.monotonic() - started:.1f}s."
            )
            + "\nLog in as admin / nurture-admin (other demo users: password nurture-demo)."
        )

    def _users(self, rng: random.Random) -> dict[str, list[User]]:
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser(
                "admin", "admin@saomai.edu.vn", "nurture-admin", role=User.Role.ADMIN, first_name="Quản trị"
            )
        staff = [("manager", User.Role.MANAGER), ("marketer", User.Role.MARKETER), ("cskh", User.Role.CARE_AGENT)]
        for username, role in staff:
            self._user(rng, username, role, None)
        reps: dict[str, list[User]] = {}
        for b, (branch, provinces) in enumerate(BRANCHES):
            team, _ = Team.objects.get_or_create(name=branch)
            members = [self._user(rng, f"sale{b + 1}{n + 1}", User.Role.SALES_REP, team) for n in range(3)]
            if team.lead is None:
                team.lead = members[0]
                team.save(update_fields=["lead"])
            for province in provinces:
                reps[province] = members
        return reps

    def _user(self, rng: random.Random, username: str, role: str, team: Team | None) -> User:
        existing = User.objects.filter(username=username).first()
        if existing:
            return existing
        full_name, _gender = fake_name(rng)
        family, *rest = full_name.split()
        return User.objects.create_user(
            username, f"{username}@saomai.edu.vn", DEMO_PASSWORD, role=role, team=team,
            first_name=" ".join(rest), last_name=family,
        )  # fmt: skip

    def _forms(self) -> None:
        if LeadForm.objects.exists():
            return
        consent = {
            "email": "Tôi đồng ý nhận email tư vấn từ Anh ngữ Sao Mai",
            "sms": "Tôi đồng ý nhận SMS thông báo lịch học",
            "zalo": "Tôi đồng ý được liên hệ qua Zalo",
        }

        def field(key: str, required: bool = False, **extra: Any) -> dict[str, Any]:
            return {"key": key, "label": "", "type": "text", "required": required, "custom": False, **extra}

        save_lead_form(
            LeadForm(
                name="Đăng ký học thử miễn phí",
                slug="hoc-thu",
                title="Đăng ký học thử miễn phí",
                intro="Để lại thông tin, tư vấn viên sẽ gọi lại trong 5 phút.",
                source="website",
                thank_you_message="Cảm ơn anh/chị! Tư vấn viên sẽ liên hệ ngay.",
            ),  # fmt: skip
            fields=[
                field("full_name", True),
                field("phone", True, type="tel"),
                field("email", type="email"),
                field("province"),
                field("need", type="textarea"),
                {
                    "key": "khoa_hoc",
                    "label": "Khóa học quan tâm",
                    "type": "select",
                    "required": False,
                    "options": ["IELTS", "Giao tiếp", "Trẻ em"],
                    "custom": True,
                },  # fmt: skip
            ],
            consent_texts=consent,
            tags=["hoc-thu"],
            user=None,
        )
        save_lead_form(
            LeadForm(
                name="Tải lộ trình IELTS", slug="lo-trinh-ielts", title="Tải lộ trình IELTS 6.5", source="website"
            ),
            fields=[field("full_name", True), field("email", True, type="email"), field("phone", type="tel")],
            consent_texts={"email": consent["email"]},
            tags=["ebook-ielts"],
            user=None,
        )

    def _contacts(self, rng: random.Random, n: int) -> list[int]:
        now = clock.now()
        raw: list[tuple[float, dict[str, Any]]] = []
        for _ in range(n):
            lead = fake_lead(rng)
            days_ago = rng.random() ** 1.4 * 182  # more recent leads than old ones
            raw.append((days_ago, lead))
            if rng.random() < 0.05:  # the same person again, phone written another way
                again = dict(lead, phone=lead["phone"].replace(" ", "").replace(".", ""), need="Hỏi lại học phí")
                raw.append((max(0.0, days_ago - rng.random() * 20), again))
            if lead.get("email") and rng.random() < 0.02:
                # Maybe the same person from another channel: no phone, another email provider, no
                # diacritics: the matching proposes these for review.
                local = lead["email"].partition("@")[0]
                other = {"full_name": fold(lead["full_name"]).title(), "email": f"{local}@yahoo.com", "source": "zalo"}
                raw.append((max(0.0, days_ago - rng.random() * 30), other))
        raw.sort(key=lambda item: -item[0])
        ids: list[int] = []
        for start in range(0, len(raw), BATCH):
            leads: list[LeadInput] = []
            for days_ago, data in raw[start : start + BATCH]:
                parsed = parse_lead(data)
                parsed.occurred_at = now - timedelta(days=days_ago, minutes=rng.randint(0, 600))
                leads.append(parsed)
            results = capture_leads(leads, event_type=Event.Type.FORM_SUBMITTED, source_label="demo")
            ids.extend(r.contact_id for r in results if r.created)
        return ids

    def _campaigns(self) -> None:
        """The demo's paid campaigns (the UTM campaigns its leads carry) with three months of costs."""
        today = timezone.localdate(clock.now())
        month = today.replace(day=1)
        costs = []
        for name, channel, source, medium, monthly in DEMO_CAMPAIGNS:
            campaign = save_campaign(Campaign(), {"name": name, "channel": channel, "utm_source": source,
                                                  "utm_medium": medium, "utm_campaign": name})  # fmt: skip
            start = month
            for _ in range(3):
                end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
                costs.append(CostInput(campaign, start, end, monthly))
                start = (start - timedelta(days=1)).replace(day=1)
        record_costs(costs, source="demo", user=None)

    def _owners(self, rng: random.Random, ids: list[int], reps_by_province: dict[str, list[User]]) -> None:
        """About 70% of leads have an owner from the branch of their province."""
        by_rep: dict[int, list[int]] = {}
        for contact_id, province in Contact.objects.filter(pk__in=ids).values_list("id", "province"):
            reps = reps_by_province.get(province)
            if reps and rng.random() < 0.85:
                by_rep.setdefault(rng.choice(reps).pk, []).append(contact_id)
        with transaction.atomic():
            for rep_id, contact_ids in by_rep.items():
                Contact.objects.filter(pk__in=contact_ids).update(owner_id=rep_id)

    def _routing(self) -> None:
        """New leads from here on go to their province's branch in turn, answered within 5 working minutes."""
        if AssignmentRule.objects.exists():
            return
        for priority, (branch, provinces) in enumerate(BRANCHES, start=1):
            team = Team.objects.get(name=branch)
            save_routing_rule(None, {
                "name": branch, "priority": priority * 10, "team": team, "strategy": "round_robin",
                "conditions": {"field": "province", "op": "in", "value": provinces},
            }, [])  # fmt: skip
        everyone = [(u, 1) for u in User.objects.filter(role=User.Role.SALES_REP).order_by("username")]
        save_routing_rule(None, {"name": "Các tỉnh khác", "priority": 100, "strategy": "fewest_open"}, everyone)
        save_policy(None, {"name": "Gọi trong 5 phút", "first_response_minutes": 5, "remind_before_minutes": 2,
                           "reclaim_after_minutes": 30, "escalate": True, "business_hours": True})  # fmt: skip

    def _sales(self, rng: random.Random) -> None:
        """The pipeline board: a deal for each opportunity, spread over the stages with next steps (some overdue,
        some rotting), a few won (with their orders) and lost, and calls and Zalo messages on their timelines."""
        pipeline = install_sales_presets()
        if Deal.objects.exists():
            return
        stages = list(pipeline.stages.order_by("position"))
        reasons = list(LostReason.objects.all())
        now = clock.now()
        opportunities = Contact.objects.filter(stage__key="sqo", owner__isnull=False).select_related("owner", "stage")
        for contact in opportunities:
            course, price = rng.choice(COURSES)
            deal = create_deal(contact, pipeline=pipeline, title=f"{course} – {contact.given_name or contact}",
                               amount=price, products=[course], actor=contact.owner,
                               expected_close=timezone.localdate(now) + timedelta(days=rng.randint(3, 45)))  # fmt: skip
            log_deal_activity(contact, kind=rng.choice(["call", "zalo", "meeting"]), deal=deal, actor=contact.owner,
                              body=rng.choice(NOTES))  # fmt: skip
            roll = rng.random()
            if roll < 0.12:
                mark_won(deal, version=deal.version, actor=contact.owner)
                continue
            if roll < 0.2:
                mark_lost(deal, version=deal.version, reason=rng.choice(reasons), actor=contact.owner)
                continue
            target = rng.choice(stages)
            due = now + timedelta(hours=rng.randint(-30, 72))
            step = NextStep(rng.choice(NEXT_STEPS), due, remind_at=due - timedelta(minutes=30))
            if target != deal.stage:
                move_deal(deal, stage=target, version=deal.version, actor=contact.owner, next_step=step)
            else:
                add_task(title=step.title, due_at=due, remind_at=step.remind_at, assignee=contact.owner, deal=deal)
            if rng.random() < 0.15:  # left alone for a while: rotting on the board
                Deal.objects.filter(pk=deal.pk).update(last_activity_at=now - timedelta(days=rng.randint(8, 20)))

    def _engagement(self, rng: random.Random, ids: list[int]) -> None:
        """Page views, email opens and webinars over the last two months, scored as they are recorded."""
        now = clock.now()
        items = []
        for contact_id in rng.sample(ids, k=len(ids) * 3 // 5):
            for _ in range(rng.randint(1, 6)):
                kind, data = rng.choice(ENGAGEMENT)
                at = now - timedelta(days=rng.uniform(0, 60), hours=rng.uniform(0, 12))
                items.append(EventInput(contact_id=contact_id, type=kind, at=at, source="demo", data=dict(data)))
        items.sort(key=lambda i: i.at or now)
        for start in range(0, len(items), 1000):
            record_events(items[start : start + 1000])

    def _funnel(self, rng: random.Random, ids: list[int]) -> None:
        stages = {s.key: s for s in Stage.objects.filter(stage_set__is_active=True)}
        contacts = {c.pk: c for c in Contact.objects.filter(pk__in=ids).select_related("stage", "owner")}
        now = clock.now()
        for contact_id in ids:
            contact = contacts[contact_id]
            at = contact.created_at
            roll = rng.random()
            for key, share in FUNNEL:
                if roll >= share:
                    break
                at = min(now, at + timedelta(days=rng.uniform(1, 12)))
                if key == "sql":  # sales qualify before the hand-over: the stage needs BANT
                    set_checklist(contact, DEMO_BANT, actor=contact.owner)
                change_stage(
                    contact, to_stage=stages[key], cause=StageChange.Cause.USER, actor=contact.owner, at=at,
                    reason=rng.choice(["", "Đã tư vấn", "Đã dự webinar", "Đã đóng học phí"]),
                )  # fmt: skip
            qualified_not_won = FUNNEL[3][1] <= roll < FUNNEL[0][1]
            if qualified_not_won and rng.random() < 0.3:
                at = min(now, at + timedelta(days=rng.uniform(3, 20)))
                change_stage(contact, to_stage=stages["lost"], cause=StageChange.Cause.USER, actor=contact.owner,
                             at=at, reason=rng.choice(LOST_REASONS))  # fmt: skip
            if rng.random() < 0.08:
                add_note(contact, body=rng.choice(NOTES), author=contact.owner, at=min(now, at + timedelta(hours=2)))
