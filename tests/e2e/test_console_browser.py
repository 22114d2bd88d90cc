"""The web console in a real browser (Debian's Chromium, headless, Playwright),
against the suite's real processes: an employer signs in and files an
application (a mistake first: the service's reason shows next to the field; then
a draft, a document uploaded, the draft submitted), the
identity check passes (the worker is registered in the IDMS simulator), an
officer signs in, takes the case and approves it, and the permit page shows the
number, the QR and a PDF link that serves a PDF. Screenshots land in the test's
tmp_path; ``WPIS_UPDATE_SCREENSHOTS=1`` also copies the queue and the case page
to docs/console-queue.png and docs/console-case.png."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from gateway.console.forms import submission_from_form
from national_idms.testing import AdminClient
from wpis_common.browser import CHROMIUM
from wpis_common.suite import Suite
from wpis_common.testing import auth_headers

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EMPLOYER = ("ararat", "demo-ararat")  # the demo accounts (docs/security.md), dev only
OFFICER = ("officer", "demo-officer")


def chromium_or_skip() -> None:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":  # CI must run the browser test, not skip it
            pytest.fail(f"{CHROMIUM} is missing in CI (scripts/test.sh installs it as root)")
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; "
            "scripts/test.sh does it when run as root)"
        )


def register_worker(suite: Suite) -> str:
    number = f"C{uuid.uuid4().hex[:7].upper()}"
    AdminClient(suite.idms_url).create_person(
        {
            "given_names": "Anahit",
            "surname": "Sargsyan",
            "date_of_birth": "1992-03-08",
            "sex": "F",
            "nationality": "IRN",
            "documents": [{"type": "passport", "number": number, "issuing_country": "IRN",
                           "expiry_date": "2034-01-01", "status": "valid"}],
        }
    )  # fmt: skip
    return number


def form_values(passport: str) -> dict[str, str]:
    start = date.today() + timedelta(days=40)
    return {
        "employer.name": "Ararat Build LLC", "employer.email": "hr@ararat.example",
        "worker.given_names": "Anahit", "worker.surname": "Sargsyan",
        "worker.date_of_birth": "1992-03-08", "worker.sex": "F", "worker.nationality": "IRN",
        "worker.email": "anahit@example.org", "worker.passport.number": passport,
        "worker.passport.issuing_country": "IRN", "worker.passport.expiry_date": "2034-01-01",
        "kind": "new", "job.title": "Site engineer", "job.isco_code": "2142",
        "job.region": "AM-ER", "job.monthly_salary": "650000", "job.currency": "AMD",
        "contract.start_date": start.isoformat(),
        "contract.end_date": (start + timedelta(days=330)).isoformat(),
    }  # fmt: skip


def other_cases(suite: Suite) -> int:
    """A few cases filed over the API, so the queue has company (and counts)."""
    people = (("Ravi", "Kumar", "1990-04-12", "M", "IND", "Z1234567", "2031-01-01"),
              ("José-María", "Nuñez", "1987-05-06", "M", "ESP", "PAA123456", "2032-11-10"),
              ("Nobody", "Known", "1991-01-01", "F", "GEO", "Q0000001", "2033-01-01"))  # fmt: skip
    headers = auth_headers(suite, EMPLOYER[0])
    for given, surname, born, sex, nationality, number, expiry in people:
        values = form_values(number)
        values.update({"worker.given_names": given, "worker.surname": surname,
                       "worker.date_of_birth": born, "worker.sex": sex,
                       "worker.nationality": nationality,
                       "worker.passport.issuing_country": nationality,
                       "worker.passport.expiry_date": expiry, "job.title": "Welder",
                       "job.isco_code": "7212", "job.monthly_salary": "450000"})  # fmt: skip
        payload = submission_from_form({**values, "employer.tax_id": "02563412"})
        created = requests.post(f"{suite.gateway_url}/api/v1/applications", json=payload,
                                headers=headers, timeout=15)  # fmt: skip
        assert created.status_code == 201, created.text
    return len(people)


def test_console_pages_refuse_without_a_session_and_forms_need_csrf(suite: Suite):
    root = requests.get(f"{suite.gateway_url}/", allow_redirects=False, timeout=10)
    assert root.status_code == 303 and root.headers["Location"] == "/console"
    queue = requests.get(f"{suite.gateway_url}/console/queue", allow_redirects=False, timeout=10)
    assert queue.status_code == 303
    assert queue.headers["Location"].startswith("/console/login?next=%2Fconsole%2Fqueue")
    login = requests.get(f"{suite.gateway_url}/console/login", timeout=10)
    assert login.status_code == 200 and "csrf_token" in login.text
    assert "default-src 'self'" in login.headers["Content-Security-Policy"]
    forged = requests.post(
        f"{suite.gateway_url}/console/login",
        data={"username": OFFICER[0], "password": OFFICER[1], "csrf_token": "x" * 43},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403, "a login form without the matching CSRF cookie"
    assert "wpis_session" not in forged.cookies
    css = requests.get(f"{suite.gateway_url}/console/static/console.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    verify = requests.get(f"{suite.gateway_url}/verify", timeout=10)
    assert verify.status_code == 200, "the public verification page still works"


def test_employer_files_officer_approves_permit_page_in_a_browser(suite: Suite, tmp_path: Path):
    chromium_or_skip()
    passport = register_worker(suite)
    other_cases(suite)
    config = {
        "url": suite.gateway_url,
        "out": str(tmp_path),
        "employer": list(EMPLOYER),
        "officer": list(OFFICER),
        "worker": form_values(passport),
        "timeout": 60,
    }
    # Playwright's sync API hangs in this eventlet-patched process: drive it from its own.
    browser = subprocess.run(
        [sys.executable, "-m", "gateway.console.browsercheck", json.dumps(config)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert browser.returncode == 0, browser.stderr[-3000:]
    seen = json.loads(browser.stdout.strip().splitlines()[-1])
    assert "error" not in seen, f"{seen}\n{suite.all_logs(20)}"

    # the employer
    assert seen["employer_landing"] == "/console/queue"
    assert seen["tax_id_prefilled"] == "02563412"
    assert seen["form_errors"]["worker.passport.number"], "the reason shows next to the field"
    assert seen["form_errors"]["job.monthly_salary"]
    assert seen["form_kept_values"] == "Sargsyan", "a refused form keeps what was typed"
    assert seen["draft_flash"].startswith("The draft is saved.")
    assert seen["draft_status"] == "draft"
    assert seen["upload_flash"] == "The document is uploaded."
    assert seen["documents_listed"] == 1
    assert seen["filed_flash"] == "The application is submitted."
    assert seen["employer_status"] in ("submitted", "identity_check_pending",
                                       "labour_market_test_pending", "in_review")  # fmt: skip
    assert seen["employer_queue_has_case"]
    assert seen["after_logout"].startswith("/console/login")

    # the officer
    assert seen["officer_landing"] == "/console/queue"
    assert seen["identity_outcome"] == "verified"
    assert seen["assigned_flash"] == "The case is assigned to you."
    assert seen["actions_before"] == ["approve", "reject", "send-back"]
    assert seen["queue_rows"] >= 4
    assert seen["queue_fits_laptop"] and seen["queue_fits_tablet"] and seen["case_fits_tablet"]
    assert seen["approved_flash"] == "The application is approved."
    assert seen["status_after_approval"] in ("approved", "permit_issued")
    assert seen["actions_after"] == 0

    # the permit
    assert seen["permit_number"]
    assert seen["pdf_href"] == f"/api/v1/permits/{seen['permit_number']}/document"
    assert seen["pdf_status"] == 200 and seen["pdf_type"] == "application/pdf"
    assert seen["pdf_magic"] == "%PDF-"
    assert seen["qr_svg"] == 1
    assert seen["revoke_shown_to_officer"] == 0, "revoke is for a supervisor"
    assert seen["armenian_lang"] == "hy" and seen["language_remembered"] == "hy"
    assert seen["armenian_title"].startswith("Գործ")

    shots = {Path(path).stem: Path(path) for path in seen["screenshots"]}
    for name in ("console-queue", "console-case", "console-permit", "employer-form-errors"):
        assert shots[name].stat().st_size > 10_000, name
    if os.environ.get("WPIS_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shots["console-queue"], REPO / "docs" / "console-queue.png")
        shutil.copy(shots["console-case"], REPO / "docs" / "console-case.png")


def console_session(suite: Suite, username: str) -> tuple[requests.Session, str]:
    """Sign in through the console's form, as a browser would (cookies + CSRF)."""
    browser = requests.Session()
    page = browser.get(f"{suite.gateway_url}/console/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    signed_in = browser.post(
        f"{suite.gateway_url}/console/login",
        data={"csrf_token": csrf, "username": username, "password": f"demo-{username}",
              "next": "/console/queue"},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert signed_in.status_code == 303, signed_in.text
    return browser, csrf


def test_a_supervisor_revokes_a_permit_from_its_page(suite: Suite):
    # a permit of the browser test's case (it runs first in this module)
    cases = requests.get(
        f"{suite.gateway_url}/api/v1/applications",
        params={"status": "permit_issued"},
        headers=auth_headers(suite, "supervisor"),
        timeout=10,
    )
    assert cases.status_code == 200, cases.text
    if not cases.json():
        pytest.skip("no permit issued in this module (the browser test skipped)")
    number = cases.json()[0]["permit_number"]
    page_url = f"{suite.gateway_url}/console/permits/{number}"

    browser, csrf = console_session(suite, "officer")
    assert 'data-test="revoke"' not in browser.get(page_url, timeout=10).text
    refused = browser.post(f"{page_url}/revoke", data={"csrf_token": csrf, "reason": "x"},
                           allow_redirects=False, timeout=10)  # fmt: skip
    assert refused.status_code == 403

    browser, csrf = console_session(suite, "supervisor")
    page = browser.get(page_url, timeout=10)
    assert page.status_code == 200 and 'data-test="revoke"' in page.text
    no_csrf = browser.post(f"{page_url}/revoke", data={"reason": "fraud"}, allow_redirects=False,
                           timeout=10)  # fmt: skip
    assert no_csrf.status_code == 403
    revoked = browser.post(
        f"{page_url}/revoke", data={"csrf_token": csrf, "reason": "documents were forged"},
        timeout=10,
    )  # fmt: skip
    assert revoked.status_code == 200 and "The permit is revoked." in revoked.text
    assert 'data-test="permit-status">Revoked<' in revoked.text
    assert 'data-test="revoke"' not in revoked.text


def test_another_employer_sees_nothing_of_the_case_and_reads_its_own_language(suite: Suite):
    ararat_case = requests.get(
        f"{suite.gateway_url}/api/v1/applications",
        headers=auth_headers(suite, "supervisor"),
        params={"employer": "02563412", "limit": 1},
        timeout=10,
    ).json()[0]["id"]

    sevan, _ = console_session(suite, "sevan")  # an employer whose account language is ru
    queue = sevan.get(f"{suite.gateway_url}/console/queue", timeout=10)
    assert queue.status_code == 200 and '<html lang="ru">' in queue.text
    assert ararat_case not in queue.text
    case = sevan.get(f"{suite.gateway_url}/console/cases/{ararat_case}", timeout=10)
    assert case.status_code == 404 and "Здесь ничего нет." in case.text
    assert "Ararat" not in case.text

    agency, _ = console_session(suite, "agency")
    assert agency.get(f"{suite.gateway_url}/console/queue", timeout=10).status_code == 403
