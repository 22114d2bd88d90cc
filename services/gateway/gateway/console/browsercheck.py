"""Drive the console in a real browser: an employer files an application, an
officer approves it, the permit page shows the number and the PDF link.

    python -m gateway.console.browsercheck '{"url": "http://127.0.0.1:8000", "out": "dir", ...}'

Uses Debian's Chromium (``/usr/bin/chromium``, never a downloaded browser)
through Playwright, headless. Prints one JSON object with what it saw, and saves
screenshots in ``out``. Waits only on conditions with a deadline (reloading the
page until the case moves on), never a fixed time. Run in a process of its own:
Playwright's sync API does not mix with an eventlet-patched process (the tests).

Config keys: url, out, employer [user, password], officer [user, password],
worker (the filing form's values, by field name), timeout (seconds, per wait).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from wpis_common.browser import launch_chromium

LAPTOP = {"width": 1280, "height": 860}
# the smallest document the applications service accepts as a PDF (sniffed by its bytes)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TABLET = {"width": 768, "height": 1024}


class Flow:
    def __init__(self, page: Any, config: dict[str, Any]):
        self.page = page
        self.url = config["url"].rstrip("/")
        self.out = Path(config["out"])
        self.timeout = float(config.get("timeout", 60))
        self.seen: dict[str, Any] = {"screenshots": []}

    def shot(self, name: str) -> None:
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.seen["screenshots"].append(str(path))

    def fits(self) -> bool:
        """No sideways scrolling of the page itself (wide tables scroll in their box)."""
        return bool(
            self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        )

    def login(self, user: str, password: str) -> None:
        self.page.goto(f"{self.url}/console")
        assert "/console/login" in self.page.url, self.page.url
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("[data-test=sign-in]")
        self.page.wait_for_load_state()

    def logout(self) -> None:
        self.page.click("[data-test=logout]")
        self.page.wait_for_load_state()

    def reload_until(self, selector: str, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while self.page.locator(selector).count() == 0:
            if time.monotonic() > deadline:
                status = self.page.locator("[data-test=status]").get_attribute("data-status")
                raise TimeoutError(f"{what}: not seen within {self.timeout}s (status {status})")
            self.page.wait_for_timeout(300)  # a poll interval, bounded by the deadline
            self.page.reload()

    def flash(self) -> str:
        found = self.page.locator("[data-test=flash]")
        return found.inner_text().strip() if found.count() else ""

    def fill_form(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            field = self.page.locator(f'[name="{name}"]')
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            elif field.get_attribute("readonly") is None:
                field.fill(value)

    # -- the story ----------------------------------------------------------------

    def employer_files(self, user: str, password: str, worker: dict[str, str]) -> str:
        self.login(user, password)
        self.seen["employer_landing"] = self.page.url.removeprefix(self.url)
        self.page.click("[data-test=nav-new]")
        assert self.page.url.endswith("/console/applications/new"), self.page.url
        self.seen["tax_id_prefilled"] = self.page.input_value('[name="employer.tax_id"]')
        # first a mistake: the service's reason appears next to the field
        self.fill_form({**worker, "worker.passport.number": "??", "job.monthly_salary": "-5"})
        self.page.click("[data-test=file]")
        self.page.wait_for_load_state()
        errors = {}
        for name in ("worker.passport.number", "job.monthly_salary"):
            note = self.page.locator(f'[data-test="error-{name}"]')
            errors[name] = note.inner_text() if note.count() else None
        self.seen["form_errors"] = errors
        self.seen["form_kept_values"] = self.page.input_value('[name="worker.surname"]')
        self.shot("employer-form-errors")
        # then right, as a draft: upload a document, then submit
        self.fill_form(worker)
        self.page.click("[data-test=save-draft]")
        self.page.wait_for_load_state()
        assert "/console/cases/" in self.page.url, self.page.url
        case_id = self.page.url.rsplit("/", 1)[-1].split("?")[0]
        self.seen["draft_flash"] = self.flash()
        self.seen["draft_status"] = self.status()
        self.page.select_option("#doc-type", "passport_copy")
        self.page.set_input_files(
            "#doc-file",
            {"name": "passport.pdf", "mimeType": "application/pdf", "buffer": PDF},
        )
        self.page.click("[data-test=upload]")
        self.page.wait_for_load_state()
        self.seen["upload_flash"] = self.flash()
        self.seen["documents_listed"] = self.page.locator("[data-test=document]").count()
        self.page.click("[data-test=submit]")
        self.page.wait_for_load_state()
        self.seen["filed_flash"] = self.flash()
        self.seen["employer_status"] = self.status()
        self.shot("employer-case")
        self.page.goto(f"{self.url}/console/queue")
        self.seen["employer_queue_has_case"] = (
            self.page.locator(f'a[href="/console/cases/{case_id}"]').count() > 0
        )
        self.logout()
        self.seen["after_logout"] = self.page.url.removeprefix(self.url)
        return case_id

    def status(self) -> str | None:
        return self.page.locator("[data-test=status]").get_attribute("data-status")

    def officer_approves(self, user: str, password: str, case_id: str) -> None:
        self.login(user, password)
        self.seen["officer_landing"] = self.page.url.removeprefix(self.url)
        self.page.goto(f"{self.url}/console/queue?status=in_review")
        self.page.goto(f"{self.url}/console/cases/{case_id}")
        self.reload_until("[data-test=assign]", "the case in review, open to take")
        self.seen["identity_outcome"] = self.page.locator(
            "[data-test=identity-outcome]"
        ).inner_text()
        self.page.click("[data-test=assign]")
        self.page.wait_for_load_state()
        self.seen["assigned_flash"] = self.flash()
        self.seen["actions_before"] = sorted(
            self.page.locator(".actions button").evaluate_all("bs => bs.map(b => b.dataset.test)")
        )
        self.page.goto(f"{self.url}/console/queue")
        self.seen["queue_rows"] = self.page.locator("[data-test=case-link]").count()
        self.seen["queue_fits_laptop"] = self.fits()
        self.shot("console-queue")
        self.page.set_viewport_size(TABLET)
        self.seen["queue_fits_tablet"] = self.fits()
        self.shot("console-queue-tablet")
        self.page.set_viewport_size(LAPTOP)
        self.page.goto(f"{self.url}/console/cases/{case_id}")
        self.page.fill("#approve-reason", "documents in order")
        self.shot("console-case")
        self.page.set_viewport_size(TABLET)
        self.seen["case_fits_tablet"] = self.fits()
        self.page.set_viewport_size(LAPTOP)
        self.page.click("[data-test=approve]")
        self.page.wait_for_load_state()
        self.seen["approved_flash"] = self.flash()
        self.seen["status_after_approval"] = self.status()
        self.seen["actions_after"] = self.page.locator(".actions button").count()

    def permit_page(self, case_id: str) -> None:
        self.reload_until("[data-test=permit-link]", "the permit issued for the case")
        self.page.click("[data-test=permit-link]")
        self.page.wait_for_load_state()
        self.seen["permit_number"] = self.page.locator("[data-test=permit-number]").inner_text()
        link = self.page.locator("[data-test=pdf-link]")
        self.seen["pdf_href"] = link.get_attribute("href")
        self.seen["qr_svg"] = self.page.locator("[data-test=qr] svg").count()
        pdf = self.page.request.get(self.url + self.seen["pdf_href"])
        self.seen["pdf_status"] = pdf.status
        self.seen["pdf_type"] = pdf.headers.get("content-type")
        self.seen["pdf_magic"] = pdf.body()[:5].decode("latin-1")
        self.seen["revoke_shown_to_officer"] = self.page.locator("[data-test=revoke]").count()
        self.shot("console-permit")
        self.page.goto(f"{self.url}/console/cases/{case_id}?lang=hy")
        self.seen["armenian_lang"] = self.page.get_attribute("html", "lang")
        self.seen["armenian_title"] = self.page.locator("h1").inner_text()
        self.page.goto(f"{self.url}/console/queue")  # the choice is remembered
        self.seen["language_remembered"] = self.page.get_attribute("html", "lang")
        self.shot("console-queue-hy")


def run(config: dict[str, Any]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    Path(config["out"]).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport=LAPTOP, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(float(config.get("timeout", 60)) * 1000)
            flow = Flow(page, config)
            try:
                case_id = flow.employer_files(*config["employer"], config["worker"])
                flow.seen["case_id"] = case_id
                flow.officer_approves(*config["officer"], case_id)
                flow.permit_page(case_id)
            except Exception as error:
                flow.seen["error"] = f"{type(error).__name__}: {error}"
                flow.seen["at"] = page.url
                with contextlib.suppress(Exception):  # the browser may be gone: report anyway
                    flow.shot("failure")
            return flow.seen
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    config = json.loads((argv or sys.argv[1:])[0])
    print(json.dumps(run(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
