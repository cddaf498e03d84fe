"""Ready-made journeys from the seeds, with their message templates in Vietnamese: installed as drafts to
review, then publish (`install`, the "Use this template" button, POST /journeys/templates/{key}/install).

Purchases, webinars, videos and surveys arrive as events (POST /api/v1/events): `order_placed`,
`webinar_registered`, `webinar_attended`, `video_watched`, `survey_answered` (data.score 0-10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from nurture.accounts.models import User
from nurture.journeys.actions import save_journey
from nurture.journeys.models import Journey

REWARD_EVENT = "journey_reward"
REWARD_POINTS = 20


@dataclass(frozen=True)
class Ready:
    key: str
    name: str
    description: Any
    trigger: dict[str, Any]
    steps: list[tuple[str, dict[str, Any]]]
    goal: Mapping[str, Any] | None = None
    reenrol: str = Journey.Reenrol.NEVER
    reenrol_days: int | None = None


# Message templates: (name, channel) -> fields. Steps name them by key ("@welcome"); install creates them (or
# reuses a template of that name) and puts their ids in the graph.
MESSAGES: dict[str, dict[str, str]] = {
    "welcome": {"name": "[Mẫu] Chào mừng", "channel": "email", "subject": "Chào {{ greeting }}, cảm ơn đã quan tâm!",
                "body": "Chào {{ greeting }},\n\nCảm ơn {{ greeting }} đã để lại thông tin. Trong vài ngày tới, "
                        "chúng tôi sẽ gửi {{ greeting }} những tài liệu hữu ích nhất.\n\nHủy nhận email: "
                        "{{ unsubscribe_url }}"},
    "content": {"name": "[Mẫu] Nội dung giá trị", "channel": "email",
                "subject": "{{ given_name }}, tài liệu dành riêng cho {{ greeting }}",
                "body": "Chào {{ greeting }},\n\nĐây là cẩm nang và câu chuyện khách hàng giúp {{ greeting }} giải "
                        "quyết nhu cầu của mình.\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "offer": {"name": "[Mẫu] Ưu đãi trải nghiệm", "channel": "zalo",
              "body": "Chào {{ greeting }}! Ưu đãi học thử / dùng thử giá 0đ dành riêng cho {{ greeting }}, chỉ trong "
                      "tuần này. Trả lời tin nhắn để giữ chỗ nhé.",
              "sms_body": "Chao {{ given_name }}, uu dai trai nghiem 0d chi trong tuan nay. Goi {{ owner.phone }} de "
                          "giu cho."},
    "onboarding": {"name": "[Mẫu] Hướng dẫn bắt đầu", "channel": "email", "subject": "Bắt đầu thật dễ, {{ greeting }}",
                   "body": "Chào {{ greeting }},\n\nCảm ơn {{ greeting }} đã tin chọn chúng tôi. Ba bước để bắt đầu: "
                           "...\nNgười phụ trách của {{ greeting }}: {{ owner.name }} ({{ owner.phone }}).\n\n"
                           "Hủy nhận email: {{ unsubscribe_url }}"},
    "care": {"name": "[Mẫu] Hỏi thăm sau sử dụng", "channel": "sms",
             "body": "Chao {{ given_name }}, {{ greeting }} dung san pham the nao? Can ho tro goi {{ owner.phone }}."},
    "loyalty": {"name": "[Mẫu] Ưu đãi thành viên", "channel": "email", "subject": "Quà tri ân thành viên thân thiết",
                "body": "Chào {{ greeting }},\n\n{{ greeting }} vừa được cộng điểm thành viên. Ưu đãi riêng cho lần "
                        "mua tiếp theo đang chờ {{ greeting }}.\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "referral": {"name": "[Mẫu] Giới thiệu bạn bè", "channel": "zalo",
                 "body": "Cảm ơn {{ greeting }} đã đồng hành! Giới thiệu bạn bè: mỗi người bạn đăng ký, {{ greeting }} "
                         "nhận ngay quà tặng.",
                 "sms_body": "Cam on {{ given_name }}! Gioi thieu ban be de nhan qua tang."},
    "webinar_thanks": {"name": "[Mẫu] Cảm ơn đã dự webinar", "channel": "email",
                       "subject": "Tài liệu webinar dành cho {{ greeting }}",
                       "body": "Chào {{ greeting }},\n\nCảm ơn {{ greeting }} đã tham dự. Slide và ưu đãi dành riêng "
                               "cho người tham dự ở đây.\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "webinar_missed": {"name": "[Mẫu] Bản ghi webinar", "channel": "email",
                       "subject": "{{ given_name }} ơi, bản ghi webinar đây",
                       "body": "Chào {{ greeting }},\n\nTiếc là {{ greeting }} chưa tham dự được. Xem lại bản ghi và "
                               "đăng ký buổi tiếp theo nhé.\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "video_questions": {"name": "[Mẫu] Còn thắc mắc sau video?", "channel": "email",
                        "subject": "{{ greeting }} còn thắc mắc gì không?",
                        "body": "Chào {{ greeting }},\n\nCảm ơn {{ greeting }} đã xem video sản phẩm. Những câu hỏi "
                                "thường gặp và bảng giá ở đây.\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "video_offer": {"name": "[Mẫu] Ưu đãi sau video", "channel": "zalo",
                    "body": "Chào {{ greeting }}, ưu đãi 10% cho đơn đầu tiên trong 3 ngày. Trả lời để được tư vấn.",
                    "sms_body": "Chao {{ given_name }}, giam 10% don dau tien trong 3 ngay."},
    "onboard_sms": {"name": "[Mẫu] Mẹo ngày đầu", "channel": "sms",
                    "body": "Chao {{ given_name }}, meo ngay dau: ... Can ho tro goi {{ owner.phone }}."},
    "repurchase": {"name": "[Mẫu] Nhắc mua lại", "channel": "zalo",
                   "body": "Chào {{ greeting }}, sản phẩm của {{ greeting }} sắp hết theo chu kỳ. Đặt lại ngay để "
                           "không bị gián đoạn nhé.",
                   "sms_body": "Chao {{ given_name }}, san pham sap het. Dat lai de khong bi gian doan."},
    "nps": {"name": "[Mẫu] Khảo sát NPS", "channel": "email", "subject": "{{ greeting }} chấm điểm giúp chúng tôi nhé",
            "body": "Chào {{ greeting }},\n\nTừ 0 đến 10, {{ greeting }} sẵn lòng giới thiệu chúng tôi cho bạn bè ở "
                    "mức nào?\n\nHủy nhận email: {{ unsubscribe_url }}"},
    "nps_thanks": {"name": "[Mẫu] Cảm ơn người giới thiệu", "channel": "email",
                   "subject": "Cảm ơn {{ greeting }} rất nhiều!",
                   "body": "Chào {{ greeting }},\n\nCảm ơn {{ greeting }} đã chấm điểm cao. Giới thiệu bạn bè để cả "
                           "hai cùng nhận quà nhé.\n\nHủy nhận email: {{ unsubscribe_url }}"},
}  # fmt: skip


def _wait(days: int, **more: Any) -> dict[str, Any]:
    return {"type": "wait", "days": days, **more}


def _send(kind: str, message: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, "template": "@" + message, **more}


BOUGHT = {"event": "order_placed", "within_days": 60}
READY: list[Ready] = [
    Ready(
        "seven_steps", "Nuôi dưỡng 7 bước",
        _("Seed 000's 7 steps: welcome, valuable content, a trial or low-price offer, onboarding after the first "
          "purchase, member care, loyalty points, then the referral ask."),
        {"type": "event", "event": "form_submitted"},
        [
            ("welcome", _send("send_email", "welcome")), ("w1", _wait(2)),
            ("content", _send("send_email", "content")), ("w2", _wait(3)),
            ("offer", _send("send_zalo", "offer", fallback="sms")),
            ("bought", {"type": "wait_event", "event": "order_placed", "timeout": {"days": 7},
                        "timeout_next": "call"}),
            ("customer", {"type": "change_stage", "stage": "customer"}),
            ("onboarding", _send("send_email", "onboarding")), ("w3", _wait(7)),
            ("care", _send("send_sms", "care")), ("w4", _wait(30)),
            ("points", {"type": "add_points", "event": REWARD_EVENT}), ("loyalty", _send("send_email", "loyalty")),
            ("w5", _wait(14)), ("referral", _send("send_zalo", "referral", fallback="sms")),
            ("done", {"type": "exit", "reason": "đã mời giới thiệu"}),
            ("call", {"type": "call_task", "script": "Khách chưa dùng ưu đãi: hỏi vướng mắc, tư vấn gói phù hợp."}),
        ],
    ),
    Ready(
        "webinar", "Sau webinar: đã dự / chỉ đăng ký",
        _("Registered for a webinar: a day after, attendees get the slides and an offer, the others the recording."),
        {"type": "event", "event": "webinar_registered"},
        [
            ("w1", _wait(1)),
            ("attended", {"type": "branch", "condition": {"event": "webinar_attended", "within_days": 7},
                          "yes": "thanks", "no": "missed"}),
            ("thanks", _send("send_email", "webinar_thanks")),
            ("hot", {"type": "add_tag", "tag": "dự webinar"}),
            ("call", {"type": "call_task", "script": "Khách đã dự webinar: hỏi cảm nhận, mời đăng ký."}),
            ("end", {"type": "exit", "reason": "đã dự webinar"}),
            ("missed", _send("send_email", "webinar_missed")),
        ],
    ),
    Ready(
        "video_no_purchase", "Xem video nhưng chưa mua",
        _("Watched the product video but did not buy: questions answered, an offer, then a call for the engaged."),
        {"type": "event", "event": "video_watched"},
        [
            ("w1", _wait(1)), ("questions", _send("send_email", "video_questions")), ("w2", _wait(2)),
            ("offer", _send("send_zalo", "video_offer", fallback="sms")), ("w3", _wait(3)),
            ("engaged", {"type": "branch", "condition": {"field": "score", "op": "gte", "value": 30},
                         "yes": "call", "no": "end"}),
            ("call", {"type": "call_task", "script": "Khách đã xem video và nhận ưu đãi: tư vấn, chốt đơn."}),
            ("end", {"type": "exit", "reason": "chưa mua"}),
        ],
        goal=BOUGHT,
    ),
    Ready(
        "onboarding", "Hướng dẫn sau khi mua",
        _("After a purchase: the getting-started guide, a tip by SMS, then a check-in call by the owner."),
        {"type": "event", "event": "order_placed"},
        [
            ("guide", _send("send_email", "onboarding")), ("w1", _wait(1)), ("tip", _send("send_sms", "onboard_sms")),
            ("w2", _wait(7)), ("call", {"type": "call_task", "script": "Gọi hỏi thăm sau 1 tuần sử dụng."}),
        ],
        reenrol=Journey.Reenrol.AFTER_DAYS, reenrol_days=90,
    ),
    Ready(
        "repurchase", "Nhắc mua lại theo chu kỳ",
        _("Three days before the custom date “repurchase_due”: a reminder, then a call if no order came."),
        {"type": "date", "field": "custom.repurchase_due", "days_before": 3},
        [
            ("remind", _send("send_zalo", "repurchase", fallback="sms")),
            ("order", {"type": "wait_event", "event": "order_placed", "timeout": {"days": 5}, "timeout_next": "call"}),
            ("end", {"type": "exit", "reason": "đã mua lại"}),
            ("call", {"type": "call_task", "script": "Đến kỳ mua lại mà chưa đặt: gọi nhắc, hỏi nhu cầu."}),
        ],
        reenrol=Journey.Reenrol.ALWAYS,
    ),
    Ready(
        "nps", "Khảo sát NPS → cảm ơn và mời giới thiệu",
        _("Two weeks after a purchase: the NPS survey; promoters (9-10) are thanked, rewarded and asked for "
          "referrals, detractors (0-6) get a call from their owner."),
        {"type": "event", "event": "order_placed"},
        [
            ("w1", _wait(14)), ("survey", _send("send_email", "nps")),
            ("answer", {"type": "wait_event", "event": "survey_answered", "timeout": {"days": 7},
                        "timeout_next": "end"}),
            ("promoter", {"type": "branch", "yes": "thanks", "no": "detractor",
                          "condition": {"event": "survey_answered", "within_days": 8,
                                        "where": [{"field": "data.score", "op": "gte", "value": 9}]}}),
            ("thanks", _send("send_email", "nps_thanks")), ("points", {"type": "add_points", "event": REWARD_EVENT}),
            ("referral", _send("send_zalo", "referral", fallback="sms", next="end")),
            ("detractor", {"type": "branch", "yes": "call", "no": "end",
                           "condition": {"event": "survey_answered", "within_days": 8,
                                         "where": [{"field": "data.score", "op": "lte", "value": 6}]}}),
            ("call", {"type": "call_task", "script": "Khách chấm điểm thấp: gọi lắng nghe, xử lý phàn nàn."}),
            ("end", {"type": "exit"}),
        ],
        reenrol=Journey.Reenrol.AFTER_DAYS, reenrol_days=90,
    ),
]  # fmt: skip
BY_KEY = {r.key: r for r in READY}


def install(key: str, *, actor: User | None) -> Journey:
    """Create the journey (a draft) and whatever it needs: its message templates (reused by name when they
    exist) and a points rule for the reward event when none scores it yet."""
    from nurture.messaging.actions import save_template
    from nurture.messaging.models import Template
    from nurture.scoring.actions import save_rule
    from nurture.scoring.models import PointsRule

    ready = BY_KEY[key]
    with transaction.atomic():
        ids: dict[str, int] = {}
        for _step_id, step in ready.steps:
            ref = step.get("template")
            if isinstance(ref, str) and ref[1:] not in ids:
                fields = MESSAGES[ref[1:]]
                found = Template.objects.filter(name=fields["name"], channel=fields["channel"], language="vi").first()
                ids[ref[1:]] = (found or save_template(None, {**fields, "language": "vi"})).pk
            if step["type"] == "add_points" and not PointsRule.objects.filter(event_type=step["event"]).exists():
                save_rule(None, {"name": "Thưởng từ hành trình", "kind": "behaviour", "event_type": step["event"],
                                 "points": REWARD_POINTS}, actor=actor)  # fmt: skip
        steps = {
            step_id: {**step, "template": ids[step["template"][1:]]} if "template" in step else dict(step)
            for step_id, step in ready.steps
        }
        data = {
            "name": ready.name, "description": str(ready.description), "trigger": ready.trigger,
            "goal": dict(ready.goal or {}), "reenrol": ready.reenrol, "reenrol_days": ready.reenrol_days,
            "graph": {"order": [s for s, _ in ready.steps], "steps": steps},
        }  # fmt: skip
        journey = save_journey(None, data, actor=actor)
        Journey.objects.filter(pk=journey.pk).update(template_key=key)
        journey.template_key = key
    return journey
