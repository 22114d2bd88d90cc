"""The console's routes with their dependencies replaced (no broker, no
services): sign-in redirects, CSRF refusals that do nothing, the filing form
re-shown with the service's reasons, actions answered with a redirect and a
one-time message, role gates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.api import console
from gateway.service import GatewayService
from gateway.session import LoginFailed, RateLimited

CSRF = "c" * 43


@dataclass(frozen=True)
class Caller:
    username: str
    role: str
    tax_id: str | None = None
    display_name: str | None = None
    language: str = "en"


class FakeSession:
    def __init__(self, caller: Caller | None = None):
        self.caller = caller
        self.subject = None
        self.logged_out: list[Any] = []

    def login(self, username, password, address):
        if password != "right":
            raise LoginFailed("wrong username or password")
        return {"access_token": "A", "refresh_token": "R", "expires_in": 900,
                "token_type": "bearer", "role": "employer", "username": username}  # fmt: skip

    def refresh(self, token):
        raise LoginFailed("expired")

    def act_as(self, token):
        return None

    def logout(self, refresh_token=None):
        self.logged_out.append(refresh_token)


def request(method: str, path: str, form: dict | None = None, csrf: str | None = CSRF,
            **kwargs: Any) -> Request:  # fmt: skip
    data = dict(form or {})
    if method == "POST" and csrf is not None:
        data.setdefault("csrf_token", csrf)
    builder = EnvironBuilder(method=method, path=path, data=data if method == "POST" else None,
                             **kwargs)  # fmt: skip
    if csrf is not None and "Cookie" not in builder.headers:
        builder.headers["Cookie"] = f"wpis_csrf={CSRF}"
    return Request(builder.get_environ())


def gateway(caller: Caller | None = None) -> Any:
    service = worker_factory(GatewayService, session=FakeSession(caller))
    return service


def remote(exc_type: str, **body: Any) -> RemoteError:
    return RemoteError(exc_type, json.dumps({"message": "refused", **body}))


OFFICER = Caller("officer", "decision_officer")
EMPLOYER = Caller("ararat", "employer", tax_id="02563412")


def test_anonymous_pages_redirect_to_sign_in_and_back():
    service = gateway()
    answer = service.console_queue(request("GET", "/console/queue", query_string="status=x"))
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/console/login?next=%2Fconsole%2Fqueue%3Fstatus%3Dx"
    assert service.console_root(request("GET", "/")).headers["Location"] == "/console"


def test_login_sets_the_session_cookie_and_goes_to_next():
    service = gateway()
    form = {"username": "ararat", "password": "right", "next": "/console/cases/1"}
    answer = service.console_login(request("POST", "/console/login", form))
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/cases/1"
    cookies = answer.headers.getlist("Set-Cookie")
    assert any(c.startswith("wpis_session=A;") and "HttpOnly" in c and "SameSite=Strict" in c
               for c in cookies)  # fmt: skip
    wrong = service.console_login(request("POST", "/console/login", {**form, "password": "x"}))
    assert wrong.status_code == 401 and "Wrong user name or password." in wrong.get_data(True)


def test_a_form_without_the_csrf_cookie_is_refused_and_nothing_happens():
    service = gateway(OFFICER)
    answer = service.console_case_action(
        request("POST", "/console/cases/a1/approve", {"reason": "ok"}, csrf=None), "a1", "approve"
    )
    assert answer.status_code == 403
    service.applications.decide.assert_not_called()
    forged = request("POST", "/console/cases/a1/approve", {"csrf_token": "d" * 43})
    assert service.console_case_action(forged, "a1", "approve").status_code == 403
    service.applications.decide.assert_not_called()


def test_approve_redirects_to_the_case_with_a_message():
    service = gateway(OFFICER)
    service.applications.decide.return_value = {"id": "a1", "status": "approved"}
    answer = service.console_case_action(
        request("POST", "/console/cases/a1/approve", {"reason": "fine"}), "a1", "approve"
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/cases/a1"
    service.applications.decide.assert_called_once_with(
        "a1", {"decision": "approve", "reason": "fine"}
    )
    flash = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("wpis_flash=")]
    assert flash and "flash_approved" in console.unquote(flash[0])
    assert service.session.subject == "a1"


def test_a_refused_action_comes_back_as_a_message():
    service = gateway(OFFICER)
    service.applications.send_back.side_effect = remote("Conflict", status="approved")
    answer = service.console_case_action(
        request("POST", "/console/cases/a1/send-back", {"reason": "x", "fix": "a\n\nb"}),
        "a1",
        "send-back",
    )
    assert answer.status_code == 303
    service.applications.send_back.assert_called_once_with("a1", {"reason": "x", "fix": ["a", "b"]})
    flash = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("wpis_flash=")]
    assert "error_refused" in console.unquote(flash[0]) and "refused" in console.unquote(flash[0])


def test_an_unknown_action_is_404():
    service = gateway(OFFICER)
    answer = service.console_case_action(request("POST", "/console/cases/a1/eat"), "a1", "eat")
    assert answer.status_code == 404


def test_the_filing_form_is_for_employers_and_shows_the_services_reasons():
    assert gateway(OFFICER).console_apply_page(request("GET", "/x")).status_code == 403
    service = gateway(EMPLOYER)
    page = service.console_apply_page(request("GET", "/console/applications/new"))
    assert page.status_code == 200 and 'value="02563412"' in page.get_data(True)
    service.applications.submit.side_effect = remote(
        "InvalidInput", errors={"worker.passport.number": ["not a passport number"]}
    )
    form = {"employer.tax_id": "99999999", "worker.surname": "Sargsyan",
            "worker.passport.number": "??"}  # fmt: skip
    answer = service.console_apply(request("POST", "/console/applications", form))
    html = answer.get_data(True)
    assert answer.status_code == 422
    assert 'data-test="error-worker.passport.number">not a passport number<' in html
    assert 'value="Sargsyan"' in html, "what was typed is kept"
    sent = service.applications.submit.call_args.args[0]
    assert sent["employer"]["tax_id"] == "02563412", "an employer files for itself only"


def test_filing_redirects_to_the_new_case():
    service = gateway(EMPLOYER)
    service.applications.submit.return_value = {"id": "new-1", "status": "submitted"}
    answer = service.console_apply(request("POST", "/console/applications", {}))
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/cases/new-1"


def test_queue_and_case_pages_render_what_the_service_answers():
    service = gateway(OFFICER)
    case = {"id": "a1b2c3d4e5", "kind": "new", "status": "in_review", "employer": {},
            "worker": {"surname": "Kumar"}, "job": {}, "contract": {}, "identity": {},
            "labour_market_test": {}, "fee": {}, "allowed_actions": ["approve", "reject"],
            "assigned_to": "officer", "history": []}  # fmt: skip
    service.applications.search.return_value = {"items": [case], "next_cursor": None}
    page = service.console_queue(request("GET", "/console/queue", query_string="mine=1"))
    assert page.status_code == 200 and "Kumar" in page.get_data(True)
    assert service.applications.search.call_args_list[0].args[0]["assigned_to"] == "officer"
    service.applications.get.return_value = case
    service.applications.documents_of.return_value = []
    page = service.console_case(request("GET", "/console/cases/a1b2c3d4e5"), "a1b2c3d4e5")
    html = page.get_data(True)
    assert 'data-test="approve"' in html and 'data-test="assign"' not in html
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]


def test_a_case_the_service_hides_is_not_found():
    service = gateway(EMPLOYER)
    service.applications.get.side_effect = remote("NotFound")
    page = service.console_case(request("GET", "/console/cases/zz"), "zz")
    assert page.status_code == 404


@pytest.mark.parametrize(("role", "shown"), [("supervisor", True), ("decision_officer", False)])
def test_revoke_shows_for_a_supervisor_only(role: str, shown: bool):
    service = gateway(Caller("u", role))
    service.permits.get.return_value = {
        "number": "AM-WP-2026-000001", "status": "issued", "holder": {}, "employer": {},
        "job": {}, "allowed_actions": ["revoke", "suspend"], "history": [],
    }  # fmt: skip
    page = service.console_permit(request("GET", "/console/permits/AM-WP-2026-000001"),
                                  "AM-WP-2026-000001")  # fmt: skip
    html = page.get_data(True)
    assert 'href="/api/v1/permits/AM-WP-2026-000001/document"' in html
    assert "<svg" in html
    assert ('data-test="revoke"' in html) is shown
    refused = service.console_revoke(
        request("POST", "/console/permits/AM-WP-2026-000001/revoke", {"reason": "fraud"}),
        "AM-WP-2026-000001",
    )
    assert refused.status_code == (303 if shown else 403)


def test_logout_revokes_and_clears_the_cookies():
    service = gateway(OFFICER)
    answer = service.console_logout(request("POST", "/console/logout"))
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/login"
    assert service.session.logged_out == [None]
    cleared = " ".join(answer.headers.getlist("Set-Cookie"))
    assert "wpis_session=;" in cleared and "wpis_refresh=;" in cleared


def test_language_from_the_query_is_remembered():
    service = gateway()
    page = service.console_login_page(request("GET", "/console/login", query_string="lang=ru"))
    assert '<html lang="ru">' in page.get_data(True)
    assert any(c.startswith("wpis_lang=ru") for c in page.headers.getlist("Set-Cookie"))
    page = service.console_login_page(
        request("GET", "/console/login", headers={"Accept-Language": "hy,en;q=0.5"})
    )
    assert '<html lang="hy">' in page.get_data(True)


def test_the_console_mixin_shadows_no_other_routes_helper():
    others = [base for base in GatewayService.__mro__ if base not in (console.ConsoleApi, object)]
    mine = {name for name in vars(console.ConsoleApi) if not name.startswith("__")}
    for base in others:
        assert mine & set(vars(base)) <= {"applications", "permits", "session"}, base


def test_an_employer_saves_a_draft_then_submits_it():
    service = gateway(EMPLOYER)
    service.applications.submit.return_value = {"id": "d1", "status": "draft"}
    answer = service.console_apply(request("POST", "/console/applications", {"draft": "1"}))
    assert service.applications.submit.call_args.args[0]["draft"] is True
    flash = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("wpis_flash=")]
    assert "flash_draft_saved" in console.unquote(flash[0])
    service.applications.submit_draft.return_value = {"id": "d1", "status": "submitted"}
    answer = service.console_case_action(
        request("POST", "/console/cases/d1/submit"), "d1", "submit"
    )
    assert answer.status_code == 303
    service.applications.submit_draft.assert_called_once_with("d1")


def test_an_employer_gets_the_public_check_not_the_register_page():
    service = gateway(EMPLOYER)
    case = {"id": "a1b2c3d4e5", "kind": "new", "status": "permit_issued", "employer": {},
            "worker": {}, "job": {}, "contract": {}, "identity": {}, "labour_market_test": {},
            "fee": {}, "allowed_actions": [], "permit_number": "WP-2026-000001-E",
            "history": []}  # fmt: skip
    service.applications.get.return_value = case
    service.applications.documents_of.return_value = []
    html = service.console_case(request("GET", "/console/cases/a1"), "a1").get_data(True)
    assert 'href="/verify?number=WP-2026-000001-E"' in html and "/console/permits/" not in html
    page = service.console_permit(request("GET", "/console/permits/X"), "X")
    assert page.status_code == 403
    service.permits.get.assert_not_called()


def test_too_many_logins_answer_429_with_retry_after():
    service = gateway()

    def limited(*_args):
        raise RateLimited(42)

    service.session.login = limited
    answer = service.console_login(request("POST", "/console/login", {"username": "x"}))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "42"
    assert "Try again in 42 seconds." in answer.get_data(True)


def test_an_expired_access_token_is_renewed_with_the_refresh_cookie():
    service = gateway()
    renewed = {"access_token": "A2", "refresh_token": "R2", "expires_in": 900}
    service.session.refresh = lambda token: renewed if token == "R1" else None
    service.session.act_as = lambda token: OFFICER if token == "A2" else None
    service.applications.search.return_value = {"items": [], "next_cursor": None}
    page = service.console_queue(
        request("GET", "/console/queue", headers={"Cookie": f"wpis_csrf={CSRF}; wpis_refresh=R1"})
    )
    assert page.status_code == 200
    cookies = page.headers.getlist("Set-Cookie")
    assert any(c.startswith("wpis_session=A2;") for c in cookies)
    assert any(c.startswith("wpis_refresh=R2;") for c in cookies)


def test_after_a_form_sent_without_a_session_sign_in_leads_to_the_start():
    service = gateway()
    answer = service.console_case_action(
        request("POST", "/console/cases/a1/approve"), "a1", "approve"
    )
    assert answer.headers["Location"] == "/console/login?next=%2Fconsole"
    service.applications.decide.assert_not_called()


def test_signing_out_with_an_expired_access_token_still_revokes_the_refresh_token():
    service = gateway()
    service.session.refresh = lambda token: {"access_token": "A2", "refresh_token": "R2",
                                             "expires_in": 900}  # fmt: skip
    service.session.act_as = lambda token: OFFICER
    cookie = f"wpis_csrf={CSRF}; wpis_refresh=R1"
    answer = service.console_logout(request("POST", "/console/logout", headers={"Cookie": cookie}))
    assert answer.status_code == 303
    assert service.session.logged_out == ["R2"], "the renewed refresh token is the live one"
