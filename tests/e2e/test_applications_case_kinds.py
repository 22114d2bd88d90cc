"""The full case workflow end to end: real processes, real HTTP, real RabbitMQ, the
IDMS, employment agency and payment simulators, with the labour-market test, the
fee and the document checklist switched on (they are off in the default config).

One suite for the module; each kind of case is one test: new with a labour-market
test, new exempt, extension, amendment, send-back and resubmission, withdrawal,
rejection (by an officer, and closure by the agency's refusal).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from wpis_common.suite import Suite, free_port, running_suite
from wpis_common.testing import auth_headers, wait_for

pytestmark = pytest.mark.e2e

# Demo accounts (wpis_common.testing.auth_headers logs them in): Ararat Build LLC's
# employer account, a decision officer, a supervisor.
EMPLOYER, OFFICER, SUPERVISOR = "ararat", "officer", "supervisor"
PDF = b"%PDF-1.7\n" + b"0" * 2000
DOCUMENT_LIMIT = 65536
REPO_ROOT = Path(__file__).resolve().parents[2]


class Simulators:
    def __init__(self, base: Path):
        self.agency_url = f"http://127.0.0.1:{free_port()}"
        self.payments_url = f"http://127.0.0.1:{free_port()}"
        self.processes: list[subprocess.Popen] = []
        self.base = base

    def start(self) -> None:
        agency_port, payments_port = (
            self.agency_url.rsplit(":", 1)[1],
            self.payments_url.rsplit(":", 1)[1],
        )
        self._run("employment_agency", "--port", agency_port, "--answer-after", "0.5",
                  "--local-candidates", "8153", "--silent", "9999")  # fmt: skip
        self._run("state_payments", "--port", payments_port)
        for url in (self.agency_url, self.payments_url):
            wait_for(lambda url=url: _healthy(f"{url}/health"), timeout=15, what=url)

    def _run(self, module: str, *args: str) -> None:
        log = open(self.base / f"{module}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes.append(
            subprocess.Popen([sys.executable, "-m", module, "--host", "127.0.0.1", *args],
                             cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        )  # fmt: skip

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def documents_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("documents"))


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, documents_root: Path) -> Iterator[Suite]:
    """The suite with the whole workflow on (overrides tests/conftest.py's suite)."""
    base = Path(tmp_path_factory.mktemp("suite"))
    simulators = Simulators(base)
    simulators.start()
    workflow = {
        "APPLICATIONS_LMT_REQUIRED": "true",
        "APPLICATIONS_LMT_EXEMPT_ISCO_CODES": "1120",
        "APPLICATIONS_FEE_REQUIRED": "true",
        "APPLICATIONS_DOCUMENTS_REQUIRED": "true",
        "APPLICATIONS_CHECKLIST_NEW": "passport_copy,contract_draft",
        "APPLICATIONS_CHECKLIST_EXTENSION": "contract_draft",
        "APPLICATIONS_CHECKLIST_AMENDMENT": "contract_draft",
        "APPLICATIONS_DOCUMENTS_ROOT": str(documents_root),
        "APPLICATIONS_DOCUMENT_MAX_BYTES": str(DOCUMENT_LIMIT),
        "APPLICATIONS_TIMER_INTERVAL": "0.5",
        "EMPLOYMENT_AGENCY_URL": simulators.agency_url,
        "PAYMENTS_URL": simulators.payments_url,
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in workflow.items():
                patch.setenv(key, value)
            context = running_suite(base)
            running = context.__enter__()
        try:
            running.payments_url = simulators.payments_url
            running.agency_url = simulators.agency_url
            yield running
        finally:
            context.__exit__(None, None, None)
    finally:
        simulators.stop()


# -- helpers -------------------------------------------------------------------------------


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def case_payload(isco: str = "7212", start: date | None = None, **top) -> dict:
    start = start or date.today()
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC",
                     "email": "hr@ararat.example"},
        "worker": {"given_names": "Ravi", "surname": "Kumar", "date_of_birth": "1990-04-12",
                   "sex": "M", "nationality": "IND", "email": "ravi@example.org",
                   "passport": {"number": "Z1234567", "issuing_country": "IND",
                                "expiry_date": "2031-01-01"}},
        "job": {"title": "Welder", "isco_code": isco, "region": "AM-ER",
                "monthly_salary": 450000, "currency": "AMD"},
        "contract": {"start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=300)).isoformat()},
        **top,
    }  # fmt: skip


def post(suite: Suite, path: str, body: dict | None = None, user: str | None = None):
    headers = auth_headers(suite, user) if user else {}
    return requests.post(api(suite, path), json=body, headers=headers, timeout=15)


def get_case(suite: Suite, application_id: str, user: str = OFFICER) -> dict:
    response = requests.get(api(suite, f"/applications/{application_id}"),
                            headers=auth_headers(suite, user), timeout=15)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def get_permit(suite: Suite, number: str) -> dict:
    headers = auth_headers(suite, OFFICER)
    response = requests.get(api(suite, f"/permits/{number}"), headers=headers, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_status(suite: Suite, application_id: str, *statuses: str) -> dict:
    def reached() -> dict | None:
        case = get_case(suite, application_id)
        return case if case["status"] in statuses else None

    return wait_for(reached, timeout=40, what=f"{application_id} to reach {statuses}")


def upload(suite: Suite, application_id: str, document_type: str, content: bytes = PDF,
           filename: str = "scan.pdf", media_type: str = "application/pdf"):  # fmt: skip
    return requests.post(
        api(suite, f"/applications/{application_id}/documents"),
        files={"file": (filename, content, media_type)},
        data={"document_type": document_type},
        headers=auth_headers(suite, EMPLOYER),
        timeout=15,
    )


def file_case(suite: Suite, payload: dict, documents: tuple[str, ...]) -> dict:
    """A draft, its documents, then submission: the employer's way in."""
    draft = post(suite, "/applications", {**payload, "draft": True}, EMPLOYER)
    assert draft.status_code == 201, draft.text
    application_id = draft.json()["id"]
    for document_type in documents:
        assert upload(suite, application_id, document_type).status_code == 201
    submitted = post(suite, f"/applications/{application_id}/submit", None, EMPLOYER)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


def pay_fee(suite: Suite, application_id: str, amount: int) -> None:
    payment = requests.post(
        f"{suite.payments_url}/v1/payments",
        json={"amount": amount, "currency": "AMD", "purpose": "work permit fee",
              "payer": "02563412"},
        timeout=10,
    )  # fmt: skip
    reference = payment.json()["reference"]
    recorded = post(suite, f"/applications/{application_id}/fee", {"reference": reference},
                    EMPLOYER)  # fmt: skip
    assert recorded.status_code == 200, recorded.text


def approve(suite: Suite, application_id: str) -> requests.Response:
    return post(suite, f"/applications/{application_id}/decision",
                {"decision": "approve", "reason": "in order"}, OFFICER)  # fmt: skip


def actions(case: dict) -> list[str]:
    return [entry["action"] for entry in case["history"]]


NEW_DOCUMENTS = ("passport_copy", "contract_draft")


@pytest.fixture(scope="module")
def issued_permit(suite: Suite) -> str:
    """A new permit through the labour-market test and the fee (the first test's path)."""
    case = file_case(suite, case_payload(), NEW_DOCUMENTS)
    wait_for_status(suite, case["id"], "in_review")
    pay_fee(suite, case["id"], 105000)
    assert approve(suite, case["id"]).status_code == 200
    return wait_for_status(suite, case["id"], "permit_issued")["permit_number"]


# -- each kind of case ---------------------------------------------------------------------


def test_new_case_with_labour_market_test_fee_and_permit(suite: Suite):
    missing = post(suite, "/applications", {**case_payload(), "draft": True}, EMPLOYER).json()
    refused = post(suite, f"/applications/{missing['id']}/submit", None, EMPLOYER)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["missing_documents"] == [
        "passport_copy",
        "contract_draft",
    ]

    case = file_case(suite, case_payload(), NEW_DOCUMENTS)
    assert case["status"] == "identity_check_pending"
    assert case["labour_market_test"]["required"] is True
    reviewed = wait_for_status(suite, case["id"], "in_review")
    assert reviewed["labour_market_test"]["outcome"] == "consent"
    assert reviewed["labour_market_test"]["request_id"].startswith("LMT-")
    assert "labour_market_test_consented" in actions(reviewed)

    unpaid = approve(suite, case["id"])
    assert unpaid.status_code == 409
    assert unpaid.json()["error"]["details"]["blockers"] == ["the state fee has not been paid"]
    pay_fee(suite, case["id"], 105000)
    assert approve(suite, case["id"]).json()["status"] == "approved"
    issued = wait_for_status(suite, case["id"], "permit_issued")
    assert issued["permit_number"]
    roles = {(e["action"], e["role"]) for e in issued["history"]}
    assert {("submit", "employer"), ("approve", "decision_officer"),
            ("permit_issued", "system")} <= roles  # fmt: skip


def test_new_exempt_case_skips_the_labour_market_test(suite: Suite):
    case = file_case(suite, case_payload(isco="1120"), NEW_DOCUMENTS)
    reviewed = wait_for_status(suite, case["id"], "in_review")
    assert reviewed["labour_market_test"]["exemption"] == "listed_profession"
    assert reviewed["labour_market_test"]["request_id"] is None
    assert "labour_market_test_not_required" in actions(reviewed)


def test_extension_of_a_valid_permit_and_refusal_of_an_unknown_one(
    suite: Suite, issued_permit: str
):
    unknown = post(
        suite,
        "/applications",
        case_payload(kind="extension", permit_number="WP-2026-999999-X"),
        EMPLOYER,
    )
    assert unknown.status_code == 409
    assert "cannot be extended" in unknown.json()["error"]["message"]

    later = date.today() + timedelta(days=200)
    case = file_case(
        suite,
        case_payload(start=later, kind="extension", permit_number=issued_permit),
        ("contract_draft",),
    )
    assert case["kind"] == "extension"
    reviewed = wait_for_status(suite, case["id"], "in_review")
    assert reviewed["labour_market_test"]["exemption"] == "not_required_for_extension"
    assert reviewed["fee"]["amount"] == 52500
    pay_fee(suite, case["id"], 52500)
    approved = approve(suite, case["id"]).json()
    assert (approved["status"], approved["referenced_permit"]) == ("approved", issued_permit)
    # The register extends the named permit: the case ends with it, no new number.
    done = wait_for_status(suite, case["id"], "permit_issued")
    assert done["permit_number"] == issued_permit
    permit = get_permit(suite, issued_permit)
    assert permit["valid_until"] == case["contract"]["end_date"]
    assert permit["application_id"] != case["id"]  # still the permit of the first case


def test_amendment_of_a_valid_permit(suite: Suite, issued_permit: str):
    payload = case_payload(kind="amendment", permit_number=issued_permit)
    payload["job"]["monthly_salary"] = 520000
    case = file_case(suite, payload, ("contract_draft",))
    reviewed = wait_for_status(suite, case["id"], "in_review")
    assert reviewed["kind"] == "amendment"
    assert reviewed["fee"]["amount"] == 21000
    pay_fee(suite, case["id"], 21000)
    assert approve(suite, case["id"]).json()["status"] == "approved"
    done = wait_for_status(suite, case["id"], "permit_issued")
    assert done["permit_number"] == issued_permit
    assert get_permit(suite, issued_permit)["job"]["monthly_salary"] == 520000


def test_send_back_and_resubmission(suite: Suite):
    case = file_case(suite, case_payload(isco="1120"), NEW_DOCUMENTS)
    wait_for_status(suite, case["id"], "in_review")
    by_employer = post(suite, f"/applications/{case['id']}/send-back",
                       {"reason": "x"}, EMPLOYER)  # fmt: skip
    assert by_employer.status_code == 403
    allowed = by_employer.json()["error"]["details"]["allowed_roles"]
    assert allowed == ["decision_officer", "intake_officer", "supervisor"]
    returned = post(
        suite,
        f"/applications/{case['id']}/send-back",
        {"reason": "the contract draft is unsigned", "fix": ["contract_draft"]},
        "intake",
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["correction_request"]["fix"] == ["contract_draft"]

    assert upload(suite, case["id"], "contract_draft").status_code == 201
    resubmitted = post(suite, f"/applications/{case['id']}/resubmit",
                       {"note": "signed draft attached"}, EMPLOYER)  # fmt: skip
    assert resubmitted.json()["status"] == "in_review"
    history = requests.get(
        api(suite, f"/applications/{case['id']}/history"),
        headers=auth_headers(suite, "auditor"),
        timeout=10,
    ).json()
    send_back = next(entry for entry in history if entry["action"] == "send_back")
    assert (send_back["actor"], send_back["role"]) == ("intake", "intake_officer")
    assert history[-1]["action"] == "resubmit"


def test_withdrawal_by_the_employer(suite: Suite):
    case = file_case(suite, case_payload(isco="1120"), NEW_DOCUMENTS)
    wait_for_status(suite, case["id"], "in_review")
    withdrawn = post(suite, f"/applications/{case['id']}/withdraw",
                     {"reason": "the worker took another job"}, EMPLOYER)  # fmt: skip
    assert withdrawn.json()["status"] == "withdrawn"
    late = approve(suite, case["id"])
    assert late.status_code == 409
    assert late.json()["error"]["details"]["allowed_actions"] == []


def test_rejection_by_an_officer_and_closure_by_the_agency(suite: Suite):
    case = file_case(suite, case_payload(isco="1120"), NEW_DOCUMENTS)
    wait_for_status(suite, case["id"], "in_review")
    rejected = post(suite, f"/applications/{case['id']}/decision",
                    {"decision": "reject", "reason": "forged diploma",
                     "reason_code": "false_information"}, OFFICER)  # fmt: skip
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reason_code"] == "false_information"

    local = file_case(suite, case_payload(isco="8153"), NEW_DOCUMENTS)
    closed = wait_for_status(suite, local["id"], "closed")
    assert closed["labour_market_test"]["outcome"] == "refusal"


# -- documents, listing, search --------------------------------------------------------------


def test_oversized_or_forbidden_upload_is_refused_and_stores_nothing(
    suite: Suite, documents_root: Path
):
    draft = post(suite, "/applications", {**case_payload(), "draft": True}, EMPLOYER).json()
    files_before = sorted(documents_root.rglob("*"))
    too_big = upload(suite, draft["id"], "photo", b"%PDF-" + b"0" * DOCUMENT_LIMIT)
    assert too_big.status_code == 413
    assert too_big.json()["errors"]["file"] == [f"larger than the limit of {DOCUMENT_LIMIT} bytes"]
    exe = upload(suite, draft["id"], "photo", b"MZ\x90\x00" + b"0" * 100, "setup.exe",
                 "application/octet-stream")  # fmt: skip
    assert exe.status_code == 422
    assert "not allowed" in exe.json()["errors"]["file"][0]
    assert sorted(documents_root.rglob("*")) == files_before
    listed = requests.get(api(suite, f"/applications/{draft['id']}/documents"),
                          headers=auth_headers(suite, EMPLOYER), timeout=10)  # fmt: skip
    assert listed.json() == []


def test_download_is_served_to_case_workers_only(suite: Suite):
    draft = post(suite, "/applications", {**case_payload(), "draft": True}, EMPLOYER).json()
    stored = upload(suite, draft["id"], "passport_copy").json()
    url = api(suite, f"/applications/{draft['id']}/documents/{stored['id']}")
    download = requests.get(url, headers=auth_headers(suite, OFFICER), timeout=10)
    assert download.content == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    auditor = auth_headers(suite, "auditor")
    assert requests.get(url, headers=auditor, timeout=10).status_code == 403
    other_employer = auth_headers(suite, "sevan")  # another employer: not even its existence
    assert requests.get(url, headers=other_employer, timeout=10).status_code == 404
    assert requests.get(url, timeout=10).status_code == 401


def test_listing_filters_pagination_and_search(suite: Suite):
    payload = case_payload(isco="1120")
    payload["worker"].update(given_names="Jose Maria", surname="Nunez", nationality="ESP",
                             email="jose@example.org")  # fmt: skip
    payload["worker"]["passport"].update(number="PAA123456", issuing_country="ESP",
                                         expiry_date="2032-11-10")  # fmt: skip
    jose = file_case(suite, payload, NEW_DOCUMENTS)
    found = requests.get(api(suite, "/applications"), params={"q": "núñez"},
                         headers=auth_headers(suite, OFFICER), timeout=10).json()  # fmt: skip
    assert [case["id"] for case in found] == [jose["id"]]
    by_passport = requests.get(api(suite, "/applications"), params={"q": "PAA123"},
                               headers=auth_headers(suite, OFFICER), timeout=10).json()  # fmt: skip
    assert [case["id"] for case in by_passport] == [jose["id"]]
    spanish = requests.get(
        api(suite, "/applications"),
        params={"nationality": "ESP", "kind": "new"},
        headers=auth_headers(suite, OFFICER),
        timeout=10,
    ).json()
    assert {case["worker"]["nationality"] for case in spanish} == {"ESP"}

    seen, url, params = [], api(suite, "/applications"), {"limit": 2}
    while True:
        page = requests.get(url, params=params, headers=auth_headers(suite, OFFICER), timeout=10)
        assert page.status_code == 200
        seen += [case["id"] for case in page.json()]
        if "X-Next-Cursor" not in page.headers:
            break
        params = {"limit": 2, "cursor": page.headers["X-Next-Cursor"]}
    everything = requests.get(
        url, params={"limit": 500}, headers=auth_headers(suite, OFFICER), timeout=10
    ).json()
    assert seen == [case["id"] for case in everything]
    assert len(seen) == len(set(seen)) > 2

    bad = requests.get(url, params={"limit": 0, "cursor": "junk", "colour": "red"},
                       headers=auth_headers(suite, OFFICER), timeout=10)  # fmt: skip
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"colour"}
    bad = requests.get(url, params={"limit": 0, "cursor": "junk", "status": "sleeping"},
                       headers=auth_headers(suite, OFFICER), timeout=10)  # fmt: skip
    assert {"limit", "status.0"} <= set(bad.json()["errors"])
