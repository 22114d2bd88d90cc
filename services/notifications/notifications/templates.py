"""Jinja2 templates of the notices, one file per template and language:
``templates/<language>/<template>.j2`` with the blocks ``subject``, ``body`` and ``sms``.

A recipient's language picks the file; a language we have no translation for, or
a template not yet translated into it, falls back to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import (
    ChainableUndefined,
    Environment,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
)

from notifications.domain import DEFAULT_LANGUAGE, LANGUAGES

BLOCKS = ("subject", "body", "sms")


@dataclass(frozen=True)
class Rendered:
    language: str  # the language actually used (after any fallback)
    subject: str
    body: str
    sms: str


def day(value: Any) -> str:
    """An ISO date or datetime as its date, YYYY-MM-DD."""
    return str(value)[:10] if value else ""


def when(value: Any) -> str:
    """A UTC ISO datetime as ``YYYY-MM-DD HH:MM UTC``."""
    text = str(value) if value else ""
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 else text


def short(value: Any) -> str:
    """The first 8 characters of an id: enough to tell cases apart in a subject line."""
    return str(value)[:8] if value else ""


@cache
def environment(strict: bool = False) -> Environment:
    """Strict (tests): a template naming a fact the event lacks is an error.
    Lenient (service): it renders empty rather than lose the notice."""
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        undefined=StrictUndefined if strict else ChainableUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # plain-text e-mail and SMS, never HTML
    )
    env.filters.update(day=day, when=when, short=short)
    return env


def _template(env: Environment, name: str, language: str) -> tuple[Template, str]:
    candidates = [language] if language in LANGUAGES else []
    if DEFAULT_LANGUAGE not in candidates:
        candidates.append(DEFAULT_LANGUAGE)
    for candidate in candidates:
        try:
            return env.get_template(f"{candidate}/{name}.j2"), candidate
        except TemplateNotFound:
            continue
    raise TemplateNotFound(name)


def render(name: str, language: str, facts: dict[str, Any], strict: bool = False) -> Rendered:
    template, used = _template(environment(strict), name, language)
    parts = {}
    for block in BLOCKS:
        context = template.new_context(dict(facts))
        parts[block] = "".join(template.blocks[block](context)).strip()
    return Rendered(used, parts["subject"], parts["body"], parts["sms"])
