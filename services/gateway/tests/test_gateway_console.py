"""The web console without a broker: catalogs, every page rendered in every
language (no missing key, text escaped), the filing form validated by the
applications service's own schema, CSRF, language choice, which actions show."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from string import Formatter

import pytest

from gateway.console import forms, i18n
from gateway.console.render import PAGES, amount, qr_svg, render, when

TEMPLATES = resources.files("gateway").joinpath("console/templates")
# every code a page may label: statuses, kinds, reason codes, document types, roles
CODES = {
    "st_": forms.STATUSES,
    "pst_": ("issued", "suspended", "revoked", "cancelled", "expired"),
    "kind_": forms.KINDS,
    "rc_": forms.REJECTION_CODES,
    "doc_": forms.DOCUMENT_TYPES,
    "act_": ("create", "submit", "request_identity_check", "identity_verified",
             "identity_rejected", "identity_deferred", "labour_market_test_not_required",
             "labour_market_test_consented", "labour_market_test_refused", "approve", "reject",
             "send_back", "resubmit", "withdraw", "permit_issued", "permit_refused", "close",
             "assign", "pay_fee", "issue", "extend", "amend", "suspend", "reinstate", "revoke",
             "cancel", "expire", "flag"),
    "role_": ("employer", "intake_officer", "decision_officer", "supervisor", "auditor",
              "agency", "admin"),
}  # fmt: skip


@dataclass(frozen=True)
class Caller:
    username: str
    role: str
    tax_id: str | None = None
    display_name: str | None = None
    language: str = "en"


OFFICER = Caller("officer", "decision_officer", display_name="Officer <Demo>")
EMPLOYER = Caller("ararat", "employer", tax_id="02563412")


def a_case(status: str = "in_review", **overrides) -> dict:
    case = {
        "id": "0b7c6a1e-1d2f-4e5a-9b8c-7d6e5f4a3b2c",
        "kind": "new",
        "status": status,
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "<script>alert(1)</script>", "surname": "Kumar",
            "date_of_birth": "1990-04-12", "sex": "M", "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {"number": "Z1234567", "issuing_country": "IND",
                         "expiry_date": "2031-01-01"},
        },
        "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": "2027-01-15", "end_date": "2027-12-31"},
        "identity": {"verification_id": "v1", "outcome": "verified", "reason": None,
                     "checked_at": "2026-12-01T10:00:00+00:00"},
        "labour_market_test": {"required": True, "exemption": None, "request_id": "r1",
                               "outcome": "no_suitable_candidate", "reason": None,
                               "requested_at": None, "due_at": "2026-12-10T00:00:00+00:00",
                               "answered_at": None},
        "fee": {"required": True, "amount": 105000, "currency": "AMD", "reference": None,
                "paid_at": None},
        "documents": {"checklist": ["passport_copy", "photo"], "missing": ["photo"],
                      "uploaded": 1, "required_before_submission": False},
        "decision": None, "decision_reason": None, "reason_code": "documents_invalid",
        "correction_request": None, "permit_number": "AM-WP-2026-000001",
        "assigned_to": None, "submitted_at": "2026-12-01T09:00:00+00:00",
        "due_at": "2026-12-31T09:00:00+00:00", "overdue": True,
        "allowed_actions": ["approve", "reject", "send_back"],
        "history": [
            {"from_status": None, "to_status": "submitted", "action": "submit",
             "actor": "ararat", "role": "employer", "reason": None,
             "at": "2026-12-01T09:00:00+00:00"},
            {"from_status": "submitted", "to_status": "in_review", "action": "identity_verified",
             "actor": "identity_gateway", "role": "system", "reason": "<b>ok</b>",
             "at": "2026-12-01T09:01:00+00:00"},
        ],
    }  # fmt: skip
    case.update(overrides)
    return case


PERMIT = {
    "number": "AM-WP-2026-000001", "application_id": "0b7c6a1e", "status": "issued",
    "holder": {"surname": "Kumar", "given_names": "Ravi", "nationality": "IND"},
    "employer": {"name": "Ararat Build LLC"}, "job": {"title": "Welder"},
    "valid_from": "2027-01-15", "valid_until": "2027-12-31",
    "issued_at": "2026-12-01T10:00:00+00:00", "flag_reason": "passport reported stolen",
    "allowed_actions": ["revoke"],
    "history": [{"at": "2026-12-01T10:00:00+00:00", "action": "issue", "to_status": "issued",
                 "actor": "system", "reason": None}],
}  # fmt: skip
DOCUMENTS = [
    {"id": "d1", "document_type": "passport_copy", "filename": "passport.pdf",
     "media_type": "application/pdf", "size": 12345, "uploaded_at": "2026-12-01T09:00:00+00:00"}
]  # fmt: skip


def contexts() -> dict[str, dict]:
    """A realistic context for every page (each branch that shows text switched on)."""
    base = {"csrf": "x" * 43, "flash": {"kind": "ok", "text": "done"}, "nav": None}
    errors = {"worker.passport.number": ["not a passport number"], "_schema": ["odd"]}
    return {
        "login.html": {**base, "user": None, "username": "officer", "next_path": "/console"},
        "queue.html": {**base, "user": OFFICER, "title_key": "queue_title",
                       "items": [a_case()], "counts": [("in_review", 1)],
                       "current": {"status": "in_review", "kind": "", "overdue": "1", "mine": ""},
                       "next_cursor": "abc", "next_url": "/console/queue?cursor=abc"},
        "case.html": {**base, "user": OFFICER, "case": a_case(), "documents": DOCUMENTS,
                      "actions": ["assign", "submit", "send_back", "approve", "reject", "withdraw",
                                  "resubmit"],
                      "can_upload": True, "upload_errors": {"file": ["the file is empty"]}},
        "permit.html": {**base, "user": Caller("boss", "supervisor"), "permit": PERMIT,
                        "verify_url": "http://x/verify?number=AM-WP-2026-000001",
                        "qr": qr_svg("http://x/verify?number=AM-WP-2026-000001"),
                        "can_revoke": True},
        "apply.html": {**base, "user": EMPLOYER, "values": {"employer.tax_id": "02563412"},
                       "errors": errors, "unplaced": forms.unplaced_errors(errors),
                       "readonly": {"employer.tax_id"}},
        "error.html": {**base, "user": EMPLOYER, "message": "nothing here"},
    }  # fmt: skip


# -- the catalogs ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["hy", "ru"])
def test_every_language_has_every_key_and_the_same_placeholders(language: str):
    catalog = i18n.CATALOG[language]
    assert i18n.missing_keys(language) == set()
    assert set(catalog) - set(i18n.EN) == set(), "keys English does not have"
    for key, text in catalog.items():
        assert text.strip(), f"{language}:{key} is empty"
        english = {name for _, name, _, _ in Formatter().parse(i18n.EN[key]) if name}
        translated = {name for _, name, _, _ in Formatter().parse(text) if name}
        assert translated == english, f"{language}:{key} placeholders differ"


def test_translations_are_translated_not_copied():
    for language in ("hy", "ru"):
        same = [k for k, v in i18n.CATALOG[language].items() if v == i18n.EN[k] and v != "—"]
        assert same == [], f"{language} repeats English for {same}"


def test_every_key_the_templates_use_is_in_the_catalog():
    used: set[str] = set()
    for page in TEMPLATES.iterdir():
        if page.name.endswith(".html"):
            used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", page.read_text()))
    used |= {field.label for field in forms.FILING_FIELDS}
    used |= {section for section, _ in forms.FILING_SECTIONS}
    used |= {"queue_title", "my_applications_title"}
    for prefix, codes in CODES.items():
        used |= {f"{prefix}{code}" for code in codes}
    assert used - set(i18n.EN) == set()


# -- every page in every language ----------------------------------------------------


def test_every_page_has_a_context_here():
    assert set(contexts()) == set(PAGES)
    assert {p.name for p in TEMPLATES.iterdir() if p.name != "base.html"} == set(PAGES)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_every_language_with_no_missing_key(page: str, language: str):
    html, missing = render(page, language, **contexts()[page])
    assert missing == set()
    assert f'<html lang="{language}">' in html
    assert "<script>" not in html, "text from a request must be escaped"
    if page == "case.html":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;ok&lt;/b&gt;" in html
    if page != "login.html":
        assert i18n.CATALOG[language]["logout"] in html
    for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
        assert 'name="csrf_token" value="' + "x" * 43 + '"' in form, "a POST form without CSRF"


def test_every_history_action_of_the_services_has_a_label():
    domain = pytest.importorskip("applications.domain")
    permits = pytest.importorskip("permits.domain")
    actions = {a.value for a in domain.Action} | {a.value for a in permits.Action}
    assert actions <= set(CODES["act_"])


def test_pages_show_the_language_text_not_the_english():
    html, _ = render("case.html", "hy", **contexts()["case.html"])
    assert i18n.HY["action_approve"] in html and i18n.EN["action_approve"] not in html
    html, _ = render("queue.html", "ru", **contexts()["queue.html"])
    assert i18n.RU["st_in_review"] in html


def test_a_missing_key_is_reported_and_falls_back_to_english():
    translate = i18n.Translator("hy")
    assert translate("no_such_key") == "no_such_key"
    assert translate.missing == {"no_such_key"}
    assert translate.maybe("st_", "a_new_status") == "a_new_status"
    assert translate.maybe("st_", None) == "—"


def test_the_case_page_shows_only_the_actions_it_is_given():
    context = {**contexts()["case.html"], "actions": []}
    html, _ = render("case.html", "en", **context)
    assert 'data-test="approve"' not in html and 'data-test="no-actions"' in html
    context["actions"] = ["approve"]
    html, _ = render("case.html", "en", **context)
    assert 'data-test="approve"' in html and 'data-test="reject"' not in html


def test_the_filing_form_shows_each_reason_next_to_its_field():
    html, _ = render("apply.html", "en", **contexts()["apply.html"])
    assert 'data-test="error-worker.passport.number">not a passport number<' in html
    assert re.search(r'name="employer.tax_id" value="02563412"\s+readonly', html)
    assert "_schema: odd" in html


def test_filters_format_dates_and_amounts():
    assert when("2026-12-01T09:05:33.123+00:00") == "2026-12-01 09:05"
    assert when("2027-01-15") == "2027-01-15"
    assert when(None) == "—"
    assert amount(450000) == "450 000"


# -- language choice -------------------------------------------------------------------


def test_language_comes_from_query_then_cookie_then_account_then_browser():
    assert i18n.pick_language("ru", "hy", "en", "hy") == "ru"
    assert i18n.pick_language(None, "hy", "ru", "en") == "hy"
    assert i18n.pick_language(None, None, "ru", "hy") == "ru"
    assert i18n.pick_language(None, None, None, "de-DE,ru;q=0.8,hy;q=0.9") == "hy"
    assert i18n.pick_language("xx", "zz", None, "de") == "en"
    assert i18n.parse_accept_language("ru-RU, en;q=0.5, hy;q=0") == ["ru", "en"]


# -- the filing form validates as the API does -----------------------------------------


def good_form() -> dict[str, str]:
    start = date.today() + timedelta(days=45)
    return {
        "employer.tax_id": "02563412", "employer.name": "Ararat Build LLC",
        "employer.email": "hr@a.example", "employer.phone": "",
        "worker.given_names": "Ravi", "worker.surname": "Kumar",
        "worker.date_of_birth": "1990-04-12", "worker.sex": "M", "worker.nationality": "ind",
        "worker.email": "ravi@example.org", "worker.passport.number": "z1234567",
        "worker.passport.issuing_country": "IND", "worker.passport.expiry_date": "2031-01-01",
        "kind": "new", "permit_number": "", "job.title": "Welder", "job.isco_code": "7212",
        "job.region": "AM-ER", "job.monthly_salary": "450000", "job.currency": "AMD",
        "contract.start_date": start.isoformat(),
        "contract.end_date": (start + timedelta(days=300)).isoformat(),
    }  # fmt: skip


def test_the_form_becomes_the_api_payload():
    payload = forms.submission_from_form(good_form())
    assert payload["worker"]["passport"] == {
        "number": "Z1234567", "issuing_country": "IND", "expiry_date": "2031-01-01"
    }  # fmt: skip
    assert payload["job"]["monthly_salary"] == 450000
    assert payload["worker"]["nationality"] == "IND"
    assert "phone" not in payload["employer"] and "permit_number" not in payload


def test_the_applications_schema_accepts_the_form_and_names_form_fields_in_its_errors():
    casework = pytest.importorskip("applications.casework")
    from wpis_common.errors import InvalidInput

    data = casework.parse_submission(forms.submission_from_form(good_form()), date.today())
    assert data["worker"]["passport"]["number"] == "Z1234567"

    bad = {**good_form(), "worker.passport.number": "!", "job.monthly_salary": "lots",
           "worker.surname": "", "contract.end_date": "2020-01-01", "job.region": "XX"}  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        casework.parse_submission(forms.submission_from_form(bad), date.today())
    body = {"errors": refused.value.details.get("errors") or refused.value.details}
    errors = forms.field_errors(body)
    names = {field.name for field in forms.FILING_FIELDS}
    assert {"worker.passport.number", "job.monthly_salary", "worker.surname",
            "job.region"} <= set(errors)  # fmt: skip
    assert set(errors) <= names, "every reason lands next to a field"


def test_field_errors_read_both_error_shapes():
    old = {"error": "invalid_request", "errors": {"job.title": ["must not be blank"]}}
    new = {"error": {"code": "invalid", "message": "bad", "fields": {"job.title": ["x"]}}}
    assert forms.field_errors(old) == {"job.title": ["must not be blank"]}
    assert forms.field_errors(new) == {"job.title": ["x"]}
    assert forms.error_message(new) == "bad"
    assert forms.error_message({"error": "conflict", "message": "cannot approve"}) == (
        "cannot approve"
    )


# -- CSRF, redirects, filters, actions --------------------------------------------------


def test_csrf_needs_the_cookie_and_the_same_value_in_the_form():
    token = forms.new_csrf_token()
    assert forms.csrf_ok(token, token)
    assert not forms.csrf_ok(token, token[:-1] + "x")
    assert not forms.csrf_ok(None, token)
    assert not forms.csrf_ok(token, None)
    assert not forms.csrf_ok("short", "short")


def test_after_login_only_local_paths():
    assert forms.safe_next("/console/cases/1?x=2") == "/console/cases/1?x=2"
    for evil in ("//evil.example/", "https://evil.example", "/\\evil", None, ""):
        assert forms.safe_next(evil) == "/console"


def test_queue_filters():
    filters, current = forms.queue_filters(
        {"status": "in_review", "kind": "new", "overdue": "1", "mine": "1"}, "officer"
    )
    assert filters == {"limit": 100, "status": ["in_review"], "kind": "new", "overdue": True,
                       "assigned_to": "officer"}  # fmt: skip
    assert current == {"status": "in_review", "kind": "new", "overdue": "1", "mine": "1"}
    filters, current = forms.queue_filters({"status": "nonsense", "kind": "x"}, "officer")
    assert filters == {"limit": 100} and current["status"] == ""


def test_status_counts_in_workflow_order():
    items = [{"status": s} for s in ("approved", "in_review", "in_review", "draft")]
    assert forms.status_counts(items) == [("draft", 1), ("in_review", 2), ("approved", 1)]


@pytest.mark.parametrize(
    ("role", "status", "allowed", "assigned", "shown"),
    [
        ("decision_officer", "in_review", ["approve", "reject", "send_back"], None,
         ["assign", "send_back", "approve", "reject"]),
        ("decision_officer", "in_review", ["approve", "reject", "send_back"], "officer",
         ["send_back", "approve", "reject"]),
        ("decision_officer", "in_review", ["approve", "reject", "send_back"], "someone",
         ["send_back", "approve", "reject"]),
        ("supervisor", "in_review", ["approve"], "someone", ["assign", "approve"]),
        ("intake_officer", "identity_check_pending", [], None, ["assign"]),
        ("decision_officer", "permit_issued", [], None, []),
        ("auditor", "in_review", [], None, []),
        ("employer", "returned_for_correction", ["resubmit", "withdraw"], None,
         ["withdraw", "resubmit"]),
    ],
)  # fmt: skip
def test_case_actions_follow_role_and_state(role, status, allowed, assigned, shown):
    case = {"status": status, "allowed_actions": allowed, "assigned_to": assigned}
    assert forms.case_actions(case, role, "officer") == shown


def test_qr_is_an_inline_svg():
    svg = str(qr_svg("http://127.0.0.1:8000/verify?number=AM-WP-2026-000001"))
    assert svg.startswith("<svg") and "<script" not in svg


def test_no_cdn_no_script_everything_served_by_the_gateway():
    css = resources.files("gateway").joinpath("console/static/console.css").read_text()
    assert "@import" not in css and "url(" not in css
    for page in TEMPLATES.iterdir():
        text = page.read_text()
        assert "<script" not in text, page.name
        assert not re.search(r'(src|href)="(https?:)?//', text), page.name
        assert "style=" not in text, f"{page.name}: inline styles break the CSP (style-src 'self')"
