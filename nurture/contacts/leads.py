"""LeadInput: one validated, normalised lead from any channel, ready for `capture_leads`.

Every capture path (form, API, import, webhook) turns its raw input into a LeadInput through
`parse_lead`, so validation and normalisation are the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from nurture.core.normalise import NormalisationError, clean_name, normalize_email, normalize_phone

TEXT_FIELDS: dict[str, int] = {
    "full_name": 200,
    "company": 200,
    "job_title": 100,
    "industry": 100,
    "province": 100,
    "address": 300,
    "need": 5000,
    "preferred_contact_time": 100,
    "source": 100,
    "medium": 100,
    "campaign": 200,
    "term": 200,
    "content": 200,
    "referrer": 500,
    "landing_url": 500,
    "external_id": 200,
    "zalo_id": 100,
    "facebook_id": 100,
    "anonymous_id": 100,
}
CONSENT_CHANNELS = ("email", "sms", "zalo", "call")
GENDERS = {
    "male": "male", "m": "male", "nam": "male", "anh": "male", "ong": "male", "ông": "male",
    "female": "female", "f": "female", "nu": "female", "nữ": "female", "chi": "female", "chị": "female",
    "ba": "female", "bà": "female", "": "",
}  # fmt: skip
TRUE_WORDS = {"1", "true", "yes", "y", "on", "co", "có", "đồng ý", "dong y", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "off", "khong", "không", ""}
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%y")
TAG_RE = re.compile(r"[,;]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class FieldError:
    field: str
    code: str
    message: str


class InvalidLead(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass
class LeadInput:
    full_name: str = ""
    email: str = ""
    phone: str = ""
    external_id: str = ""
    zalo_id: str = ""
    facebook_id: str = ""
    anonymous_id: str = ""
    gender: str = ""
    birth_date: date | None = None
    company: str = ""
    job_title: str = ""
    industry: str = ""
    province: str = ""
    address: str = ""
    need: str = ""
    preferred_contact_time: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""
    referrer: str = ""
    landing_url: str = ""
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)
    consent_texts: dict[str, str] = field(default_factory=dict)
    # What the channel knows about this submission (form id, import row ...), kept on the event.
    event_data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None

    @property
    def is_anonymous(self) -> bool:
        """Known only by a website visitor id: sits in the Anonymous stage."""
        return bool(self.anonymous_id) and len(self.identity_keys()) == 1

    def identity_keys(self) -> list[tuple[str, str]]:
        """(kind, value) pairs, most trusted first."""
        pairs = [
            ("external", self.external_id),
            ("phone", self.phone),
            ("email", self.email),
            ("zalo", self.zalo_id),
            ("facebook", self.facebook_id),
            ("anonymous", self.anonymous_id),
        ]
        return [(kind, value) for kind, value in pairs if value]


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(raw)


def parse_date(raw: Any) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # spreadsheets hand over 912345678.0 for a number cell
    # Control characters (a NUL from a broken form or file) are dropped: PostgreSQL refuses NUL in text.
    return " ".join(CONTROL.sub("", str(raw)).split())


def parse_lead(data: Mapping[str, Any], *, require_contact_point: bool = True) -> LeadInput:
    """Validate and normalise a raw lead; raise InvalidLead naming every bad field."""
    errors: list[FieldError] = []
    lead = LeadInput()
    region = settings.NURTURE_DEFAULT_PHONE_REGION

    for name, limit in TEXT_FIELDS.items():
        value = _text(data.get(name))
        if len(value) > limit:
            errors.append(FieldError(name, "too_long", _("at most %(n)d characters") % {"n": limit}))
            continue
        setattr(lead, name, value)
    if lead.full_name:
        lead.full_name = clean_name(lead.full_name)

    raw_email = _text(data.get("email"))
    if raw_email:
        try:
            lead.email = normalize_email(raw_email)
        except NormalisationError as exc:
            errors.append(FieldError("email", exc.code, _(exc.message)))
    raw_phone = _text(data.get("phone"))
    if raw_phone:
        try:
            lead.phone = normalize_phone(raw_phone, default_region=region)
        except NormalisationError as exc:
            errors.append(FieldError("phone", exc.code, _(exc.message)))

    raw_gender = _text(data.get("gender")).lower()
    if raw_gender in GENDERS:
        lead.gender = GENDERS[raw_gender]
    else:
        errors.append(FieldError("gender", "invalid", _("use male or female")))
    try:
        lead.birth_date = parse_date(data.get("birth_date"))
    except ValueError:
        errors.append(FieldError("birth_date", "invalid", _("use dd/mm/yyyy")))

    raw_tags = data.get("tags") or []
    if isinstance(raw_tags, str):
        raw_tags = TAG_RE.split(raw_tags)
    if not isinstance(raw_tags, list | tuple):
        errors.append(FieldError("tags", "invalid", _("a list of tags")))
    else:
        tags = [_text(t) for t in raw_tags if _text(t)]
        if any(len(t) > 60 for t in tags):
            errors.append(FieldError("tags", "too_long", _("a tag has at most 60 characters")))
        lead.tags = list(dict.fromkeys(tags))

    custom = data.get("custom_fields") or {}
    if not isinstance(custom, Mapping) or not all(
        isinstance(v, str | int | float | bool) or v is None for v in custom.values()
    ):
        errors.append(FieldError("custom_fields", "invalid", _("an object of text, number or yes/no values")))
    else:
        lead.custom_fields = {str(k)[:60]: v for k, v in custom.items() if v not in (None, "")}

    consents = data.get("consents") or {}
    if not isinstance(consents, Mapping):
        errors.append(FieldError("consents", "invalid", _("an object of channel: yes/no")))
    else:
        for channel, raw in consents.items():
            if channel not in CONSENT_CHANNELS:
                errors.append(FieldError(f"consents.{channel}", "unknown_channel", _("unknown channel")))
                continue
            try:
                lead.consents[channel] = parse_bool(raw)
            except ValueError:
                errors.append(FieldError(f"consents.{channel}", "invalid", _("use yes or no")))

    if require_contact_point and not errors and not lead.identity_keys():
        errors.append(FieldError("phone", "required", _("a phone, an email or an external id is required")))
    if errors:
        raise InvalidLead(errors)
    return lead
