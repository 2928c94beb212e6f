"""In real Chromium: upload with a progress bar, explore the table, see the profile charts, clean and undo."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.browser.conftest import register

# Records what the progress bar shows at each upload progress event; sessionStorage survives the
# redirect to the dataset page. On window, so it runs after the page's own document listener.
RECORD_PROGRESS = """
window.addEventListener("htmx:xhr:progress", function () {
  var bar = document.getElementById("upload-progress");
  if (!bar) return;
  var seen = JSON.parse(sessionStorage.getItem("progress") || "[]");
  seen.push({value: bar.value, hidden: bar.hidden});
  sessionStorage.setItem("progress", JSON.stringify(seen));
});
"""


def write_csv(path, rows: int = 40_000) -> None:
    """A few MB of semicolon-separated, decimal-comma data, so the upload takes several progress events."""
    lines = ["city;temperature;rain;kind"]
    for i in range(rows):
        lines.append(f"{['Oslo', 'Lima', 'Pune'][i % 3]};{i % 40},{i % 10};{'' if i % 7 == 0 else i % 5};"
                     f"{'wet' if i % 2 else 'dry'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_upload_explore_profile_clean_undo(page, tmp_path):
    register(page, "explorer")
    csv_path = tmp_path / "weather.csv"
    write_csv(csv_path)
    page.add_init_script(RECORD_PROGRESS)
    page.reload()

    page.set_input_files("#upload-file", str(csv_path))
    expect(page.locator("#drop-zone-file")).to_have_text("weather.csv")
    page.fill("#upload-name", "Weather")
    page.click("#upload-button")
    expect(page).to_have_url(re.compile(r"/datasets/\d+$"), timeout=60_000)
    seen = json.loads(page.evaluate("sessionStorage.getItem('progress') || '[]'"))
    assert seen, "no upload progress event reached the page"
    assert any(s["value"] == 100 and not s["hidden"] for s in seen), seen

    # The detected dialect is shown.
    expect(page.locator("#dataset-name")).to_have_text("Weather")
    dialect = page.locator("#dialect-table")
    expect(dialect).to_contain_text("semicolon")
    expect(dialect).to_contain_text("Decimal separator")
    expect(page.locator("#table-count")).to_contain_text("of 40,000")

    # Sorting swaps only the table and pushes the URL; back restores the previous state.
    page.click("#rows-table th a:has-text('temperature')")
    expect(page).to_have_url(re.compile(r"sort=temperature&order=asc"))
    expect(page.locator("#rows-table th[aria-sort='ascending']")).to_contain_text("temperature")
    page.click("#rows-table th a:has-text('temperature')")
    expect(page).to_have_url(re.compile(r"order=desc"))
    expect(page.locator("#rows-table tbody tr").first).to_contain_text("39.9")

    # A filter and a search.
    page.select_option("#filter-column", "city")
    page.select_option("#filter-operator", "==")
    page.fill("#filter-value", "Lima")
    page.click("#table-query-button")
    expect(page.locator("#active-filters")).to_contain_text("city equals Lima")
    expect(page.locator("#table-count")).to_contain_text("of 13,333 matching")
    page.go_back()
    expect(page.locator("#table-count")).to_contain_text("of 40,000")

    # The profile draws its charts under the CSP.
    page.click(".dataset-nav a:has-text('Profile')")
    expect(page.locator("#missing-chart")).to_be_visible()
    expect(page.locator("canvas[data-drawn='1']")).to_have_count(page.locator("canvas[data-chart]").count())
    assert page.locator("canvas[data-drawn='1']").count() >= 4
    expect(page.locator("#correlation-heatmap")).to_be_visible()

    # Clean: preview, apply, undo; undo at version 1 is a message, not a crash.
    page.click(".dataset-nav a:has-text('Clean')")
    page.click("#op-drop_columns summary")
    page.select_option("#drop_columns-columns", ["kind"])
    page.click("#form-drop_columns .op-preview")
    expect(page.locator("#preview")).to_contain_text("Cells changed")
    expect(page.locator("#preview-table thead")).not_to_contain_text("kind")
    page.click("#form-drop_columns .op-apply")
    expect(page.locator("#clean-message")).to_contain_text("this is version 2")
    expect(page.locator("#dataset-meta")).to_contain_text("3 columns · version 2")  # refreshed by HX-Trigger
    expect(page.locator("#history-table tbody tr")).to_have_count(2)

    page.click("#op-cast summary")
    page.select_option("#cast-column", "city")
    page.select_option("#cast-to", "integer")
    page.click("#form-cast .op-apply")
    expect(page.locator("#clean-result .error-message")).to_contain_text("cannot be read as integer")
    expect(page.locator("#history-table tbody tr")).to_have_count(2)  # nothing changed

    page.click("#undo-button")
    expect(page.locator("#clean-message")).to_contain_text("back to version 1")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    page.click("#undo-button")
    expect(page.locator("#clean-result .error-message")).to_contain_text("nothing to undo")


DROP_FILE = """([name, bytes]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "text/csv"}));
  document.getElementById("drop-zone").dispatchEvent(
    new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


def test_sample_dataset_row_delete_and_bad_upload(page):
    register(page, "explorer")
    png = list(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    page.wait_for_load_state("load")  # the drop handler is bound by a deferred script
    page.evaluate(DROP_FILE, ["notes.csv", png])
    expect(page.locator("#drop-zone-file")).to_have_text("notes.csv")
    page.click("#upload-button")
    expect(page.locator("#upload-result .error-message")).to_be_visible()
    expect(page.locator("#upload-progress")).to_be_hidden()
    expect(page).to_have_url(re.compile(r"/$"))

    # A file over MAX_UPLOAD_MB is refused before it is sent (here the limit is lowered to 1 MB).
    page.evaluate("document.getElementById('upload-form').dataset.maxBytes = String(1024 * 1024)")
    page.evaluate(DROP_FILE, ["big.csv", [65] * (1536 * 1024)])
    page.click("#upload-button")
    expect(page.locator("#upload-result .error-message")).to_have_text("This file is 2 MB; the limit is 1 MB.")

    page.click("#sample-button")
    expect(page.locator("#dataset-name")).to_have_text("Palmer penguins (sample)")
    expect(page.locator("#table-count")).to_contain_text("of 344")
    expect(page.locator("#rows-table thead")).to_contain_text("species")

    # A row action on a page that is out of date is refused in place (409), the table stays.
    page.evaluate("document.querySelector('#rows-table tbody tr input[name=version]').value = '99'")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rows-table tbody tr:first-child .row-delete")
    expect(page.locator("#table-alert .error-message")).to_contain_text("changed since this page was shown")
    expect(page.locator("#table-count")).to_contain_text("of 344")

    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rows-table tbody tr:first-child .row-delete")
    expect(page.locator("#table-message")).to_contain_text("Row 0 deleted")
    expect(page.locator("#table-count")).to_contain_text("of 343")
    expect(page.locator("#dataset-meta")).to_contain_text("343 rows")
    expect(page.locator("#version-select")).to_have_value("2")

    page.click("#manage-panel summary")
    page.fill("#rename-form input[name=name]", "Penguins")
    page.click("#rename-form button[type=submit]")
    expect(page.locator("#dataset-name")).to_have_text("Penguins")
    page.click("#manage-panel summary")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-form button[type=submit]")
    expect(page.get_by_text("“Penguins” was deleted.")).to_be_visible()
    expect(page.locator("#datasets-empty")).to_be_visible()
