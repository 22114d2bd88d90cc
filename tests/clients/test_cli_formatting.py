"""wpis CLI: formatting of the API's answers, without a server."""

from __future__ import annotations

import csv
import io
import json

import requests
from rich.console import Console
from wpis_cli import formatting as fmt
from wpis_cli.api import _clean, error_from_response

CASE = {
    "id": "3f2c9a10-0000-4000-8000-000000000001",
    "status": "identity_verified",
    "kind": "new",
    "employer": {"tax_id": "02563412", "name": "Ararat Build LLC"},
    "worker": {"given_names": "Ravi", "surname": "Kumar", "nationality": "IND",
               "passport": {"number": "Z1234567"}},
    "job": {"title": "Welder", "isco_code": "7212", "region": "AM-ER",
            "monthly_salary": 450000, "currency": "AMD"},
    "overdue": True,
    "allowed_actions": ["approve", "reject"],
    "history": [{"at": "2026-12-01T10:00:00+00:00", "from_status": None,
                 "to_status": "submitted", "action": "submit", "actor": "02563412",
                 "role": "employer", "reason": None}],
}  # fmt: skip


def rendered(renderable) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_pick_follows_dotted_paths_and_names_the_worker():
    assert fmt.pick(CASE, "employer.tax_id") == "02563412"
    assert fmt.pick(CASE, "worker.name") == "Ravi Kumar"
    assert fmt.pick(CASE, "job.missing.deeper") is None
    assert fmt.pick({"job": "not a dict"}, "job.title") is None


def test_cells_show_booleans_lists_and_missing_values_plainly():
    assert [fmt.cell(v) for v in (None, True, False, 3, ["a"])] == ["", "yes", "no", "3", '["a"]']


def test_case_table_has_a_row_per_case_with_a_short_id_and_a_count():
    text = rendered(fmt.cases_table([CASE, {**CASE, "id": "abcdef12-rest", "overdue": False}]))
    assert "Applications (2)" in text
    assert "3f2c9a10" in text and "abcdef12" in text
    assert "3f2c9a10-0000" not in text
    assert "Ararat Build LLC" in text and "Ravi Kumar" in text and "Welder" in text


def test_case_summary_and_history_show_what_an_officer_decides_on():
    summary = dict(fmt.case_summary(CASE))
    assert summary["Worker"] == "Ravi Kumar, IND"
    assert summary["Next actions"] == "approve, reject"
    text = rendered(fmt.key_value_table(fmt.case_summary(CASE)))
    assert "Decision" not in text  # empty values are left out
    assert "submitted" in rendered(fmt.history_table(CASE["history"]))


def test_csv_export_has_a_header_and_one_row_per_case():
    rows = list(csv.reader(io.StringIO(fmt.to_csv([CASE, CASE]))))
    assert rows[0] == list(fmt.EXPORT_COLUMNS)
    assert len(rows) == 3
    assert rows[1][rows[0].index("worker.surname")] == "Kumar"
    assert rows[1][rows[0].index("overdue")] == "yes"


def test_json_export_round_trips():
    assert json.loads(fmt.to_json([CASE])) == [CASE]


def test_event_line_names_sequence_type_and_subject():
    event = {"sequence": 7, "occurred_at": "2026-12-01T10:00:00+00:00", "producer": "permits",
             "event_type": "permit_issued", "data": {"permit_number": "WP-1"}}  # fmt: skip
    assert fmt.event_line(event) == (
        "     7  2026-12-01T10:00:00+00:00  permits.permit_issued  WP-1"
    )


def test_error_text_lists_each_field_and_reason():
    text = fmt.error_text(422, "invalid_request", "invalid request", {"reason": ["required"]})
    assert text == "error 422 invalid_request: invalid request\n  reason: required"


def response(status: int, body) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return answer


def test_an_error_body_becomes_an_api_error():
    body = {"error": {"code": "conflict", "message": "cannot approve", "fields": {}}}
    error = error_from_response(response(409, body))
    assert (error.status, error.code, error.message, error.fields) == (
        409, "conflict", "cannot approve", {},
    )  # fmt: skip


def test_a_non_json_error_still_becomes_an_api_error():
    error = error_from_response(response(502, b"Bad Gateway"))
    assert (error.status, error.code, error.message) == (502, "http_error", "Bad Gateway")


def test_query_parameters_drop_empty_filters_and_join_lists():
    assert _clean({"status": ["a", "b"], "kind": None, "q": "", "overdue": False, "limit": 5}) == {
        "status": "a,b", "overdue": "false", "limit": 5,
    }  # fmt: skip
