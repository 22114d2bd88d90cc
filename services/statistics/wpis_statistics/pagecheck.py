"""Check that the statistics page renders its charts in a real browser.

    python -m wpis_statistics.pagecheck http://127.0.0.1:8000/statistics shot.png

Drives Debian's Chromium (``/usr/bin/chromium``, never a downloaded browser)
through Playwright, headless; prints one JSON object: the page's title and,
per chart, its size, title and how many data marks it draws; saves a
full-page screenshot. Run in a process of its own: Playwright's sync API does
not mix with an eventlet-patched process (such as the test runner).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from wpis_common.browser import launch_chromium

MARKS = ".series rect, .series path, .series circle"


def check(url: str, screenshot: str, timeout_ms: float = 60_000) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout_ms)
            response = page.goto(url, wait_until="load")
            charts = {}
            for figure in page.locator("figure[data-chart]").all():
                svg = figure.locator("svg").first
                box = svg.bounding_box() or {"width": 0, "height": 0}
                charts[figure.get_attribute("data-chart")] = {
                    "width": box["width"],
                    "height": box["height"],
                    "title": (svg.locator("text.title").first.text_content() or "").strip(),
                    "marks": svg.locator(MARKS).count(),
                    "text": svg.text_content() or "",
                }
            page.screenshot(path=screenshot, full_page=True)
            return {
                "status": response.status if response else None,
                "title": page.title(),
                "charts": charts,
            }
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    url, screenshot = (argv or sys.argv[1:])[:2]
    print(json.dumps(check(url, screenshot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
