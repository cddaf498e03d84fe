from __future__ import annotations

import re

from nurture.core.normalise.errors import NormalisationError

LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_email(raw: str) -> str:
    """Trim, lower-case, IDNA-encode the domain; reject what cannot be delivered to."""
    text = (raw or "").strip().lower()
    if not text:
        raise NormalisationError("email_empty", "email is empty")
    if text.count("@") != 1:
        raise NormalisationError("email_syntax", "an email has exactly one @")
    local, domain = text.split("@")
    if not local or not LOCAL_RE.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise NormalisationError("email_syntax", "the part before @ is not valid")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise NormalisationError("email_domain", "the domain is not valid") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise NormalisationError("email_domain", "the domain is not valid")
    email = f"{local}@{ascii_domain}"
    if len(email) > 254:
        raise NormalisationError("email_syntax", "email is too long")
    return email
