"""In real Chromium: train a small model, fill the generated form, read the prediction and score a CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import register

TO_SCORE = ("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
            "Biscoe,48.0,15.0,220,5200,male,2008\nDream,39.5,18.1,190,3700,female,2009\n")


def train_a_model(page) -> None:
    register(page, "predictor")
    page.click("#sample-button")
    expect(page.locator("#dataset-name")).to_have_text("Palmer penguins (sample)")
    page.get_by_role("link", name="Train a model").click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+/train$"))
    page.wait_for_load_state()
    page.select_option("#target", "species")
    expect(page.locator("#detected-task")).to_have_text("classification")
    page.check("#family-logistic_regression")
    page.fill("#time_budget_s", "15")
    page.click("#start-button")
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"), timeout=30_000)
    expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=180_000)
    page.click("#best-model-link")
    expect(page).to_have_url(re.compile(r"/models/\d+$"))
    page.wait_for_load_state()


def test_predict_from_the_form_and_score_a_file(page, tmp_path):
    train_a_model(page)
    url = page.url

    # The form is prefilled with a typical row; change one value and predict without a page load.
    form = page.locator("#predict-form")
    expect(form.locator("select[name='in:island'] option")).to_have_count(4)  # (missing) + 3 islands
    page.select_option("select[name='in:island']", "Biscoe")
    page.fill("input[name='in:flipper_length_mm']", "225")
    page.click("#predict-button")
    expect(page.locator("#prediction-value")).to_have_text(re.compile("Adelie|Chinstrap|Gentoo"), timeout=30_000)
    expect(page.locator("#prediction-probabilities progress")).to_have_count(3)
    expect(page.locator("#prediction-reasons li").first).to_contain_text(re.compile("raised|lowered"))
    assert page.url == url

    # A value that is not a number (the browser's number input would send it empty, so as a text
    # input, like an older browser): the server's 422 error appears next to its field.
    page.evaluate("document.querySelector(\"input[name='in:bill_length_mm']\").type = 'text'")
    page.fill("input[name='in:bill_length_mm']", "long")
    page.click("#predict-button")
    expect(page.locator("small.field-error[data-field='bill_length_mm']")).to_be_visible(timeout=30_000)

    # Batch: a file in, a CSV with prediction columns out as a download.
    source = tmp_path / "to-score.csv"
    source.write_text(TO_SCORE)
    page.set_input_files("#score-file", str(source))
    page.check("#score-explain")
    with page.expect_download(timeout=60_000) as download:
        page.click("#score-button")
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 2 and rows[0]["prediction"] in ("Adelie", "Chinstrap", "Gentoo")
    assert "probability_Gentoo" in rows[0] and rows[0]["reasons"]
    expect(page.locator("#score-done")).to_contain_text("2 rows")

    # A file without the model's columns: the reason in place.
    source.write_text("island,sex\nBiscoe,male\n")
    page.set_input_files("#score-file", str(source))
    page.click("#score-button")
    expect(page.locator("#score-error")).to_contain_text("bill_length_mm", timeout=30_000)

    # A stored dataset over BATCH_SYNC_ROWS (100 here) runs as a batch job: its progress polls itself,
    # a reload finds it again in the list of batch jobs, and its link downloads the scored rows.
    page.select_option("#score-dataset", label="Palmer penguins (sample)")
    page.uncheck("#score-explain")
    page.click("#score-button")
    expect(page.locator("#score-result .batch-job")).to_be_visible(timeout=30_000)
    page.reload()
    link = page.locator("#batch-jobs .batch-job a[data-role='batch-download']")
    expect(link).to_be_visible(timeout=120_000)
    with page.expect_download(timeout=60_000) as download:
        link.click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 344 and rows[0]["prediction"] in ("Adelie", "Chinstrap", "Gentoo")
    assert "species" in rows[0] and "reasons" not in rows[0]

    # The code panel opens with the real URL.
    page.click("#predict-code summary")
    expect(page.locator("#predict-curl")).to_contain_text(re.compile(r"/api/v1/models/\d+/predict"))
