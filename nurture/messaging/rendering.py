"""Templates rendered for one contact in a Jinja2 sandbox: an author can read the variables, never the system.

StrictUndefined makes a misspelt variable an error instead of an empty hole in a message sent to thousands;
`validate_template` finds them when the template is saved, before anything is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from nurture.contacts.models import Contact
from nurture.core.normalise import greeting

ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
VARIABLES = (
    "greeting", "given_name", "full_name", "email", "phone", "province", "need", "owner", "custom",
    "unsubscribe_url", "preferences_url",
)  # fmt: skip
OWNER_FIELDS = ("name", "phone", "email")


class TemplateInvalid(ValueError):
    """Text that is not a template at all (a syntax error); the message says where."""


def validate_template(text_fields: Iterable[str], *, extra: Iterable[str] = ()) -> list[str]:
    """The unknown variables used in these texts, sorted ("owner.nam", "fullname"); [] when all are known.

    `extra` names variables the caller will pass in `context` (a journey's own). Raises TemplateInvalid on a
    syntax error.
    """
    known = set(VARIABLES) | set(extra)
    unknown: set[str] = set()
    for text in text_fields:
        try:
            tree = ENV.parse(text or "")
        except TemplateSyntaxError as exc:
            raise TemplateInvalid(f"line {exc.lineno}: {exc.message}") from None
        free = meta.find_undeclared_variables(tree)
        unknown |= free - known
        if "owner" in free:
            for node in tree.find_all(nodes.Getattr):
                if isinstance(node.node, nodes.Name) and node.node.name == "owner" and node.attr not in OWNER_FIELDS:
                    unknown.add(f"owner.{node.attr}")
    return sorted(unknown)


def variables(contact: Contact, links: dict[str, str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    owner = contact.owner
    return {
        "greeting": greeting(contact.given_name, contact.gender),
        "given_name": contact.given_name,
        "full_name": contact.full_name,
        "email": contact.email,
        "phone": contact.phone,
        "province": contact.province,
        "need": contact.need,
        "owner": {
            "name": owner.display_name if owner else "",
            "phone": owner.phone if owner else "",
            "email": owner.email if owner else "",
        },
        "custom": dict(contact.custom_fields or {}),
        **links,
        **(extra or {}),
    }


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    """Compiled once per process: a send to 500 contacts renders the same few texts 500 times."""
    return ENV.from_string(text)


def render_text(text: str, values: dict[str, Any]) -> str:
    """Render one text; raises TemplateInvalid with the reason (an undefined variable, a sandbox refusal)."""
    try:
        return _compiled(text).render(values)
    except TemplateError as exc:
        raise TemplateInvalid(exc.message or type(exc).__name__) from None
