"""Real-browser harness: the app as `make run` serves it (gunicorn) and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]


PASSWORD = "a long enough password"


def register(page, who: str) -> str:
    """Register a fresh account `<who>-<random>@example.com` through the form; lands on the datasets page."""
    from playwright.sync_api import expect

    email = f"{who}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/auth/register")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Datasets")
    return email


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context; fails the test on any CSP violation or request leaving the machine."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def guard(route):
        url = route.request.url
        if url.startswith((live_server, "data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"request left the machine: {url}")
            route.abort()

    context.route("**/*", guard)
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not problems, "\n".join(problems)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _no_stale_playwright_browsers():
    """Never download a browser: Playwright must use Debian's Chromium."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    yield
    shutil.rmtree(Path.home() / ".cache" / "ms-playwright" / ".links", ignore_errors=True)
