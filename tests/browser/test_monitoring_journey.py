"""In real Chromium: the Monitoring page draws its request charts under the CSP and shows the empty state."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.browser.conftest import register


def test_monitoring_page_draws_its_charts(page):
    register(page, "monitor")
    page.click("nav >> text=Monitoring")
    expect(page.locator("h1")).to_have_text("Monitoring")
    expect(page.locator("#monitoring-empty")).to_be_visible()
    # Each gunicorn worker writes its figures every ~10 s; a reader sees its own worker's at once.
    deadline = time.monotonic() + 30
    while not page.locator("#traffic-chart").count() and time.monotonic() < deadline:
        time.sleep(2)
        page.reload()
    for chart in ("#traffic-chart", "#latency-chart"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "1")
    assert page.locator("#http-requests").inner_text().strip() != "0"
