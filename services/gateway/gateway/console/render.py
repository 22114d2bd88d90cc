"""Rendering the console's pages: Jinja2 templates (autoescaped) with the UI
text from the catalog in ``i18n``. Pure apart from reading the packaged
templates."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from gateway.console import forms
from gateway.console.i18n import LANGUAGE_NAMES, Translator

ENV = Environment(
    loader=PackageLoader("gateway", "console/templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
PAGES = ("login.html", "queue.html", "case.html", "permit.html", "apply.html", "error.html")


def when(value: Any) -> str:
    """An ISO date-time as ``YYYY-MM-DD HH:MM`` (UTC as stored); dates as they are."""
    if not value:
        return "—"
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    if "T" not in text:
        return parsed.date().isoformat()
    return parsed.strftime("%Y-%m-%d %H:%M")


def amount(value: Any) -> str:
    """1234567 -> "1 234 567" (a thin space would confuse copy-paste)."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    return "—" if value in (None, "") else str(value)


ENV.filters["when"] = when
ENV.filters["amount"] = amount
ENV.globals["status_class"] = forms.status_class


def render(template: str, language: str, **context: Any) -> tuple[str, set[str]]:
    """(the page's HTML, the catalog keys it asked for and the language lacks)."""
    t = Translator(language)
    page = ENV.get_template(template).render(
        t=t,
        label=t.maybe,
        lang=t.language,
        languages=LANGUAGE_NAMES,
        forms=forms,
        **context,
    )
    return page, t.missing


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code for ``text`` (segno; no image file, no script)."""
    return Markup(segno.make(text, error="m").svg_inline(scale=4, border=2))


def stylesheet() -> str:
    return resources.files("gateway").joinpath("console/static/console.css").read_text()
