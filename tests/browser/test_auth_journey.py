"""In real Chromium: register, log in, create a token, change the password, log out."""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.error import HTTPError

from playwright.sync_api import expect

PASSWORD = "a long enough password"


def api_me(base_url: str, token: str) -> int:
    request = urllib.request.Request(base_url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


def test_register_login_token_password_logout(page, live_server):
    page.goto("/auth/register")
    page.fill("#email", "walker@example.com")
    page.fill("#password", PASSWORD)
    page.click("#register-form button[type=submit]")
    expect(page.locator("#datasets-empty")).to_be_visible()
    expect(page.get_by_text("Welcome!")).to_be_visible()

    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    page.fill("#email", "walker@example.com")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Datasets")

    page.goto("/account")
    page.fill("#tok-name", "notebook")
    page.click("#token-form button[type=submit]")
    token = page.locator("#new-token-value").inner_text().strip()
    assert token.startswith("csva_")
    assert api_me(live_server, token) == 200
    expect(page.locator("#token-table")).to_contain_text("notebook")

    page.fill("#pw-current_password", PASSWORD)
    page.fill("#pw-new_password", "an even longer new password")
    page.click("#password-form button[type=submit]")
    expect(page.get_by_text("Password changed")).to_be_visible()
    assert api_me(live_server, token) == 401  # tokens end with the old password

    page.click("#logout-button")
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    page.fill("#email", "walker@example.com")
    page.fill("#password", "an even longer new password")
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/account$"))


def test_swagger_ui_loads_under_the_csp_and_authorizes(page, live_server):
    body = json.dumps({"email": "swagger@example.com", "password": PASSWORD}).encode()
    request = urllib.request.Request(live_server + "/api/v1/auth/register", data=body,
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CSV Analyzer API")
    expect(page.locator("button.authorize")).to_be_visible()
    page.click("button.authorize")
    expect(page.locator(".auth-container input")).to_be_visible()
