"""Statistics end to end: the suite's real processes feed the statistics read
model; a rebuild from the producers' logs gives the same figures; the API
refuses bad questions; the public export is suppressed; the console's
statistics page renders its charts in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient

from wpis_common.browser import CHROMIUM
from wpis_common.envelope import Envelope
from wpis_common.outbox import AmqpEventPublisher
from wpis_common.suite import Suite
from wpis_common.testing import auth_headers, wait_for
from wpis_statistics import samples

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHARTS = (
    "permits-by-month",
    "top-nationalities",
    "sectors",
    "regions",
    "decision-time",
    "within-deadline",
)
QUESTIONS = [
    ("applications_received", {"group_by": "month,nationality"}),
    ("applications_decided", {"group_by": "outcome"}),
    ("permits_issued", {"group_by": "region,isco_major"}),
    ("identity_checks", {"group_by": "outcome"}),
    ("decision_time", {}),
    ("permits_active", {}),
    ("contracts_registered", {}),
]


def api(suite: Suite, path: str) -> str:
    return f"{suite.gateway_url}/api/v1{path}"


def ask(suite: Suite, measure: str, params: dict | None = None) -> requests.Response:
    return requests.get(
        api(suite, f"/statistics/{measure}"),
        params=params or {},
        timeout=15,
        headers=auth_headers(suite, "officer"),
    )


def total(suite: Suite, measure: str) -> int | None:
    response = ask(suite, measure)
    return response.json()["total"] if response.status_code == 200 else None


def application(passport: str, surname: str) -> dict:
    start = date.today() + timedelta(days=45)
    return {
        "employer": {"tax_id": "02563412", "name": "Ararat Build LLC", "email": "hr@a.example"},
        "worker": {
            "given_names": "Ravi",
            "surname": surname,
            "date_of_birth": "1990-04-12",
            "sex": "M",
            "nationality": "IND",
            "email": "ravi@example.org",
            "passport": {
                "number": passport,
                "issuing_country": "IND",
                "expiry_date": "2031-01-01",
            },
        },
        "job": {
            "title": "Welder",
            "isco_code": "7212",
            "region": "AM-ER",
            "monthly_salary": 450000,
            "currency": "AMD",
        },
        "contract": {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=300)).isoformat(),
        },
    }


def status_of(suite: Suite, application_id: str) -> str:
    return requests.get(
        api(suite, f"/applications/{application_id}"),
        timeout=10,
        headers=auth_headers(suite, "officer"),
    ).json()["status"]


def file_and_decide(suite: Suite) -> int:
    """Real cases through the real services: one approved, one refused by the IDMS."""
    known = requests.post(
        api(suite, "/applications"),
        json=application("Z1234567", "Kumar"),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    unknown = requests.post(
        api(suite, "/applications"),
        json=application("Q0000001", "Nobody"),
        timeout=10,
        headers=auth_headers(suite, "ararat"),
    )
    assert known.status_code == 201, known.text
    assert unknown.status_code == 201, unknown.text
    case = known.json()["id"]
    wait_for(lambda: status_of(suite, case) == "in_review", timeout=30, what="identity check")
    decision = requests.post(
        api(suite, f"/applications/{case}/decision"),
        json={"decision": "approve", "reason": "documents in order"},
        timeout=10,
        headers=auth_headers(suite, "officer"),
    )
    assert decision.status_code == 200, decision.text
    return 2


def figures(suite: Suite) -> list[dict]:
    answers = []
    for measure, params in QUESTIONS:
        response = ask(suite, measure, params)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def test_live_figures_and_a_rebuild_from_the_producers_logs_agree(suite: Suite):
    cases = file_and_decide(suite)

    def counted() -> dict | None:
        answers = figures(suite)
        received, decided, issued = answers[0], answers[1], answers[2]
        done = received["total"] == cases and decided["total"] == cases and issued["total"] == 1
        return answers if done and answers[6]["total"] == 1 else None

    live = wait_for(counted, timeout=60, interval=0.5, what="the figures of both cases")
    outcomes = {row["outcome"]: row["count"] for row in live[1]["rows"]}
    assert outcomes == {"approved": 1, "rejected": 1}

    with ClusterRpcClient(uri=suite.amqp_uri, timeout=60) as rpc:
        try:
            summary = rpc.statistics.rebuild()
        except RemoteError as error:
            if error.exc_type in ("MethodNotFound", "UnknownService"):
                pytest.xfail(f"a producer has no replay RPC events_after yet: {error}")
            raise
    assert summary["events"]["applications"] >= 3
    assert figures(suite) == live


def test_bad_questions_get_clear_4xx(suite: Suite):
    unknown = ask(suite, "permits_eaten")
    assert unknown.status_code == 404
    assert "permits_issued" in unknown.json()["error"]["details"]["measures"]
    invalid = ask(suite, "permits_issued", {"group_by": "colour", "sex": "Q", "from": "May"})
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"group_by", "sex", "from"}
    catalog = requests.get(
        api(suite, "/statistics"), timeout=10, headers=auth_headers(suite, "officer")
    ).json()
    assert "nationality" in catalog["dimensions"]
    assert requests.get(api(suite, "/statistics/export/xml"), timeout=10).status_code == 404
    bad_month = requests.get(api(suite, "/statistics/export/csv?from=2026-13"), timeout=10)
    assert bad_month.status_code == 422 and "from" in bad_month.json()["errors"]


def publish_history(suite: Suite, cases: int) -> int:
    """A year of cases, published as the producers would (for the charts)."""
    log = samples.generate(cases, datetime.now(UTC) - timedelta(days=360), 355, seed=17)
    publishers = {
        producer: AmqpEventPublisher(suite.amqp_uri, producer) for producer in log.by_producer
    }
    for body in log.all_events():
        publishers[body["producer"]](Envelope.parse(body))
    return cases


def chromium_or_skip() -> None:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; "
            "scripts/test.sh does it when run as root)"
        )


def test_statistics_page_renders_its_charts_in_a_browser(suite: Suite, tmp_path: Path):
    chromium_or_skip()
    before = total(suite, "applications_received")
    assert before is not None
    added = publish_history(suite, 60)
    wait_for(
        lambda: (total(suite, "applications_received") or 0) >= before + added,
        timeout=300,
        interval=0.5,
        what="the published history in the figures",
    )
    shot = tmp_path / "statistics.png"
    # Playwright's sync API hangs in this eventlet-patched process: drive it from its own.
    browser = subprocess.run(
        [sys.executable, "-m", "wpis_statistics.pagecheck", f"{suite.gateway_url}/statistics",
         str(shot)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert browser.returncode == 0, browser.stderr[-3000:]
    page = json.loads(browser.stdout.strip().splitlines()[-1])
    assert page["status"] == 200 and page["title"] == "WPIS statistics"
    assert sorted(page["charts"]) == sorted(CHARTS)
    for key, chart in page["charts"].items():
        assert chart["width"] > 300 and chart["height"] > 200, key
        assert chart["title"], f"{key} has no title"
        assert chart["marks"] > 0, f"{key} draws no data"
    assert "India" in page["charts"]["top-nationalities"]["text"]
    assert shot.stat().st_size > 10_000
    if os.environ.get("WPIS_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(shot, REPO / "docs" / "statistics.png")


def test_open_data_export_is_suppressed(suite: Suite):
    # runs after the page test, which published a year of history
    response = requests.get(api(suite, "/statistics/export/csv"), timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.text.splitlines()[0].startswith("month,measure,dimension,value,label,count")
    exported = requests.get(api(suite, "/statistics/export/json"), timeout=30).json()
    assert exported["rows"], "the year of history published for the page has closed months"
    assert all(row["count"] is None or row["count"] >= 5 for row in exported["rows"])
    assert any(row["flag"] == "suppressed" for row in exported["rows"])
    dictionary = requests.get(api(suite, "/statistics/export/dictionary"), timeout=10).json()
    assert dictionary["disclosure_control"]["threshold"] == 5
