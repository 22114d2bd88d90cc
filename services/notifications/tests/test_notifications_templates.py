"""Every template renders in every language from an event's facts, in that language;
an unknown language or an untranslated template falls back to English."""

from __future__ import annotations

import re

import pytest

from notifications import domain
from notifications.templates import environment, render

COMMON = {
    "application_id": "4f1c2d9e-0000-4000-8000-000000000001",
    "worker_name": "Ravi Kumar",
    "employer_name": "Ararat Build LLC",
    "recipient_name": "Ravi Kumar",
    "recipient_role": "worker",
}
FACTS = {
    "application_received": {"submitted_at": "2027-01-02T09:30:00+00:00"},
    "identity_check_delayed": {"next_attempt_at": "2027-01-02T09:35:00+00:00", "attempts": 1},
    "application_approved": {"decided_at": "2027-01-05T10:00:00+00:00"},
    "application_rejected": {"reason": "the passport is reported stolen"},
    "permit_issued": {
        "permit_number": "WP-2027-000042-K",
        "valid_from": "2027-01-15",
        "valid_until": "2027-12-31",
        "job": {"title": "Welder"},
    },
    "permit_extended": {
        "permit_number": "WP-2027-000042-K",
        "valid_until": "2028-06-30",
        "previous_valid_until": "2027-12-31",
        "reason": "contract extended",
    },
    "permit_amended": {"permit_number": "WP-2027-000042-K", "reason": "new job title"},
    "permit_suspended": {"permit_number": "WP-2027-000042-K", "reason": "under investigation"},
    "permit_reinstated": {"permit_number": "WP-2027-000042-K", "reason": "cleared"},
    "permit_revoked": {
        "permit_number": "WP-2027-000042-K",
        "revoked_on": "2027-06-01",
        "reason": "false documents",
    },
    "permit_cancelled": {
        "permit_number": "WP-2027-000042-K",
        "cancelled_on": "2027-06-01",
        "reason": "contract terminated",
    },
    "permit_expired": {"permit_number": "WP-2027-000042-K", "expired_on": "2027-12-31"},
    "contract_registered": {
        "permit_number": "WP-2027-000042-K",
        "start_date": "2027-01-15",
        "end_date": "2027-12-31",
    },
    "contract_terminated": {
        "permit_number": "WP-2027-000042-K",
        "terminated_on": "2027-06-01",
        "reason": "resigned",
    },
}
# Each language's own alphabet must carry the text, not English left untranslated.
SCRIPT = {"en": r"[A-Za-z]", "hy": r"[\u0531-\u058F]", "ru": r"[\u0400-\u04FF]"}
GREETING = {
    "en": "Dear Ravi Kumar,",
    "hy": "Հարգելի Ravi Kumar,",
    "ru": "Здравствуйте, Ravi Kumar!",
}


def test_facts_cover_every_template():
    assert sorted(FACTS) == sorted(domain.TEMPLATES)


@pytest.mark.parametrize("language", domain.LANGUAGES)
@pytest.mark.parametrize("template", domain.TEMPLATES)
def test_template_renders_in_language_with_every_fact(template, language):
    # strict: a fact the template names but the event lacks is an error, not a blank
    rendered = render(template, language, {**COMMON, **FACTS[template]}, strict=True)
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject and len(rendered.subject) <= 200
    assert rendered.body.startswith(GREETING[language])
    assert "WPIS" in rendered.body.splitlines()[-2]  # the signature closes the body
    assert rendered.sms.startswith("WPIS") and len(rendered.sms) <= 320
    for part in (rendered.subject, rendered.sms):
        assert "{{" not in part and "{%" not in part
    letters = re.findall(SCRIPT[language], rendered.body.replace("Ravi Kumar", ""))
    assert len(letters) > 40
    for value in FACTS[template].values():
        if isinstance(value, str) and len(value) >= 10 and not value[:4].isdigit():
            assert value in rendered.body  # reasons and numbers are quoted as given


def test_dates_show_as_days_and_times_in_utc():
    rendered = render("identity_check_delayed", "en", {**COMMON, **FACTS["identity_check_delayed"]})
    assert "2027-01-02 09:35 UTC" in rendered.body
    issued = render("permit_issued", "ru", {**COMMON, **FACTS["permit_issued"]})
    assert "с 2027-01-15 по 2027-12-31" in issued.body  # noqa: RUF001


@pytest.mark.parametrize("language", ["fr", "", None, "../en"])
def test_unknown_language_falls_back_to_english(language):
    rendered = render("permit_issued", language, {**COMMON, **FACTS["permit_issued"]})
    assert rendered.language == "en"
    assert rendered.subject == "Work permit WP-2027-000042-K issued"


def test_template_not_translated_yet_falls_back_to_english(tmp_path, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    env = environment(False)
    extra = DictLoader(
        {"en/only_english.j2": "{% block subject %}Hi{% endblock %}{% block body %}B"
         "{% endblock %}{% block sms %}S{% endblock %}"}
    )  # fmt: skip
    monkeypatch.setattr(env, "loader", ChoiceLoader([env.loader, extra]))
    rendered = render("only_english", "hy", {})
    assert (rendered.language, rendered.subject) == ("en", "Hi")


def test_lenient_rendering_leaves_a_missing_fact_blank_rather_than_losing_the_notice():
    rendered = render("permit_issued", "en", {**COMMON, "permit_number": "WP-1"})
    assert rendered.subject == "Work permit WP-1 issued"
    assert "Position: \n" in rendered.body
