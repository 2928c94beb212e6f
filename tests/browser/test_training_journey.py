"""In real Chromium: train a model on the sample dataset, watch it live, read the leaderboard and the charts."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import register

# Records the job status element after each htmx swap, so the test can tell that progress moved
# while the job ran. On window, so it runs after htmx's own listeners.
RECORD_STATUS = """
window.addEventListener("htmx:afterSettle", function () {
  var status = document.getElementById("job-status");
  if (!status) return;
  var bar = document.getElementById("job-progress");
  var seen = window.__jobStatus || (window.__jobStatus = []);
  seen.push({status: status.dataset.status, value: bar ? bar.value : null,
             polling: status.hasAttribute("hx-trigger")});
});
"""


def test_train_watch_leaderboard_and_charts(page):
    register(page, "trainer")
    page.click("#sample-button")
    expect(page.locator("#dataset-name")).to_have_text("Palmer penguins (sample)")
    page.get_by_role("link", name="Train a model").click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+/train$"))
    page.wait_for_load_state()  # htmx binds its triggers once the deferred scripts ran

    # The preview says which task and why, before anything runs.
    page.select_option("#target", "species")
    expect(page.locator("#detected-task")).to_have_text("classification")
    expect(page.locator("#task-reason")).to_contain_text("classification")
    expect(page.locator("#class-balance")).to_contain_text("Adelie")
    expect(page.locator("#feature-table")).to_contain_text("island")

    # Leaving a column out refreshes the preview; the families follow the task (out-of-band swap).
    page.check("input[name=exclude_columns][value=year]")
    expect(page.locator("#feature-table")).to_contain_text("excluded by you")
    page.check("#family-logistic_regression")
    page.check("#family-decision_tree")
    page.fill("#time_budget_s", "15")

    page.add_init_script(RECORD_STATUS)
    page.click("#start-button")
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"), timeout=30_000)
    expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=180_000)

    # The final swap settles a moment after the attribute changed: wait for its record.
    page.wait_for_function("(window.__jobStatus || []).some(s => s.status === 'succeeded')",
                           timeout=10_000)
    seen = page.evaluate("window.__jobStatus || []")
    live = [s for s in seen if s["status"] in ("queued", "running")]
    assert live, f"the status never refreshed while the job ran: {seen}"
    assert all(s["polling"] for s in live) and not seen[-1]["polling"], seen

    # The leaderboard, then the best model with its metrics and charts.
    leaderboard = page.locator("#leaderboard")
    expect(leaderboard).to_contain_text("ogistic regression")
    expect(leaderboard.get_by_role("link", name="Open").first).to_be_visible()
    page.click("#best-model-link")
    expect(page).to_have_url(re.compile(r"/models/\d+$"))
    expect(page.locator("#champion-badge")).to_be_visible()
    expect(page.locator("#verdict")).not_to_be_empty()
    expect(page.locator("#confusion-matrix")).to_contain_text("Gentoo")
    expect(page.locator("#roc-chart")).to_have_attribute("data-drawn", "1")
    # Importance is skipped when the budget ran out (a short budget on a busy machine): then it says so.
    expect(page.locator("#importance-chart[data-drawn='1'], #importance-missing")).to_have_count(1)
    expect(page.locator("#predict")).to_be_attached()
    with page.expect_download() as download:
        page.click("#export-link")
    assert download.value.suggested_filename.endswith(".zip")

    page.goto("/models")
    expect(page.locator("#model-list .champion")).to_have_count(1)

    page.goto("/experiments")
    expect(page.locator("#experiment-list")).to_contain_text("species")
    expect(page.locator("canvas.experiment-chart")).to_have_attribute("data-drawn", "1")
