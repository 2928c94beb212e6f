"""The prediction panel of the model page through the test client: form, htmx predict, batch, code."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from tests.conftest import csrf_token_from
from tests.functional.test_predictions_api import ROW, model_id  # noqa: F401 (a real model, trained in-process)

HX = {"HX-Request": "true"}


@pytest.fixture
def page(client, login, model_id):  # noqa: F811
    login()
    r = client.get(f"/models/{model_id}")
    assert r.status_code == 200
    return r.text


def form_data(page: str, **changes) -> dict:
    """The prefilled form as the browser would send it, with `changes` to some inputs."""
    form = page[page.index('id="predict-form"'):page.index("</form>", page.index('id="predict-form"'))]
    data = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input type="number"[^>]*name="([^"]+)" value="([^"]*)"', form)}
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        data[html.unescape(name)] = html.unescape(chosen.group(1)) if chosen else ""
    data["csrf_token"] = csrf_token_from(page)
    data.update({f"in:{k}": v for k, v in changes.items()})
    return data


def test_form_is_generated_from_the_schema_and_prefilled(page):
    assert 'id="predict-form"' in page and 'hx-post="/models/' in page
    island = re.search(r'<select id="[^"]+" name="in:island">(.*?)</select>', page, re.S).group(1)
    assert {"Biscoe", "Dream", "Torgersen"} <= set(re.findall(r'<option value="([^"]+)"', island))
    assert re.search(r'<option value="\w+" selected>', island)  # the most common island
    bill = re.search(r'<input type="number" step="any" id="[^"]+" name="in:bill_length_mm" value="([^"]*)"', page)
    assert bill and 30 < float(bill.group(1)) < 60
    assert "seen in training:" in page
    assert "<script>" not in page and "style=" not in page


def test_htmx_predict_shows_probabilities_and_reasons(client, page, model_id):  # noqa: F811
    r = client.post(f"/models/{model_id}/predict", data=form_data(page), headers=HX)
    assert r.status_code == 200, r.text[:500]
    assert "<html" not in r.text and r.text.lstrip().startswith('<div id="predict-single"')
    assert 'id="prediction-value"' in r.text
    predicted = re.search(r'id="prediction-value">([^<]+)<', r.text).group(1)
    assert predicted in ("Adelie", "Chinstrap", "Gentoo")
    bars = re.findall(r'<progress max="1" value="([0-9.]+)"', r.text)
    assert len(bars) == 3 and abs(sum(map(float, bars)) - 1) < 0.01
    reasons = re.search(r'id="prediction-reasons">(.*?)</ul>', r.text, re.S).group(1)
    assert re.search(r'class="reason-(up|down)"', reasons) and ("raised" in reasons or "lowered" in reasons)
    assert "HX-Request" in r.headers["Vary"]

    # a Gentoo-like row, sent as the browser sends it
    gentoo = {k: str(v) for k, v in ROW.items()}
    r = client.post(f"/models/{model_id}/predict", data=form_data(page, **gentoo), headers=HX)
    assert re.search(r'id="prediction-value">Gentoo<', r.text)
    # without htmx the answer is a full page
    r = client.post(f"/models/{model_id}/predict", data=form_data(page))
    assert r.status_code == 200 and "<html" in r.text and 'id="prediction-value"' in r.text


def test_bad_number_is_shown_next_to_its_field(client, page, model_id):  # noqa: F811
    r = client.post(f"/models/{model_id}/predict", data=form_data(page, bill_length_mm="long"), headers=HX)
    assert r.status_code == 422
    error = re.search(r'<small class="field-error" data-field="bill_length_mm">([^<]+)<', r.text)
    assert error and "number" in error.group(1).lower()
    assert 'name="in:bill_length_mm" value="long" aria-invalid="true"' in r.text
    assert 'id="prediction-result"' not in r.text
    # an empty field is a missing value: it predicts
    r = client.post(f"/models/{model_id}/predict", data=form_data(page, body_mass_g=""), headers=HX)
    assert r.status_code == 200 and 'id="prediction-value"' in r.text


def score(client, model_id, content: bytes, token: str, explain: bool = False, headers=None):  # noqa: F811
    data = {"file": (io.BytesIO(content), "to-score.csv"), "csrf_token": token}
    if explain:
        data["explain"] = "1"
    return client.post(f"/models/{model_id}/score", data=data, content_type="multipart/form-data",
                       headers=HX if headers is None else headers)


def test_batch_scoring_downloads_a_csv_and_shows_errors_in_place(client, page, model_id):  # noqa: F811
    token = csrf_token_from(page)
    content = (b"island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year,note\n"
               b"Biscoe,48.0,15.0,220,5200,male,2008,=cmd\nDream,39.5,18.1,190,3700,NA,2009,ok\n")
    r = score(client, model_id, content, token, explain=True)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == f'attachment; filename="predictions-model-{model_id}.csv"'
    assert r.headers["X-Rows-Scored"] == "2"
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert rows[0]["prediction"] == "Gentoo" and rows[0]["note"] == "'=cmd"
    assert {"probability_Adelie", "probability_Gentoo", "reasons"} <= set(rows[0])

    r = score(client, model_id, b"island,sex\nBiscoe,male\n", token)
    assert r.status_code == 422 and 'id="score-error"' in r.text and "bill_length_mm" in r.text
    assert "<html" not in r.text
    r = score(client, model_id, b"island,sex\nBiscoe,male\n", token, headers={})
    assert r.status_code == 422 and "<html" in r.text and 'id="score-error"' in r.text


def test_code_examples_work_as_shown(client, page, model_id, make_token):  # noqa: F811
    curl = html.unescape(re.search(r'<code id="predict-curl">(.*?)</code>', page, re.S).group(1))
    url = re.search(r'curl -X POST "([^"]+)"', curl).group(1)
    assert url == f"http://localhost/api/v1/models/{model_id}/predict"
    assert "$TOKEN" in curl and 'href="/account"' in page
    body = json.loads(re.search(r"-d '(.*)'\s*$", curl, re.S).group(1).replace("'\\''", "'"))
    assert set(body["rows"][0]) == set(ROW)
    token = make_token(1)
    r = client.post(url.removeprefix("http://localhost"), json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.json
    assert r.json["reasons"] and r.json["predictions"]

    # the Python example, with requests answered by the test client
    python = html.unescape(re.search(r'<code id="predict-python">(.*?)</code>', page, re.S).group(1))
    printed = []

    class Answer:
        def __init__(self, response):
            self.response = response

        def raise_for_status(self):
            assert self.response.status_code == 200, self.response.text

        def json(self):
            return self.response.get_json()

    class Requests:
        @staticmethod
        def post(url, headers, json, timeout):
            return Answer(client.post(url.removeprefix("http://localhost"), json=json, headers=headers))

    import os
    import sys
    from unittest import mock

    with mock.patch.dict(sys.modules, {"requests": Requests}), mock.patch.dict(os.environ, {"TOKEN": token}):
        exec(compile(python, "example.py", "exec"), {"print": lambda *a: printed.append(a)})
    assert printed and printed[0][0][0] in ("Adelie", "Chinstrap", "Gentoo")


def test_another_users_model_is_404_and_posts_need_csrf(client, page, model_id, make_user, login):  # noqa: F811
    data = form_data(page)
    r = client.post(f"/models/{model_id}/predict", data={k: v for k, v in data.items() if k != "csrf_token"},
                    headers=HX)
    assert r.status_code == 400
    r = score(client, model_id, b"a\n1\n", "")
    assert r.status_code == 400
    client.post("/auth/logout", data={"csrf_token": data["csrf_token"]})
    make_user("eve@example.com")
    login("eve@example.com")
    token = csrf_token_from(client.get("/").text)
    assert client.get(f"/models/{model_id}").status_code == 404
    r = client.post(f"/models/{model_id}/predict", data={**data, "csrf_token": token}, headers=HX)
    assert r.status_code == 404
    assert score(client, model_id, b"a\n1\n", token).status_code == 404


def test_presenters_cover_regression_dates_and_text_inputs():
    from types import SimpleNamespace

    from app.blueprints.prediction import presenters

    model = SimpleNamespace(
        id=7, task="regression", metrics={"rmse": 12.5, "mae": 9.25, "r2": 0.8},
        features=[{"name": "when", "kind": "datetime", "min": "2020-01-01T00:00:00", "max": "2021-06-30T00:00:00"},
                  {"name": "rooms", "kind": "integer", "min": 1, "max": 2009},
                  {"name": "owner", "kind": "text"},
                  {"name": "garden", "kind": "boolean", "allowed_values": ["no", "yes"]}],
        background=[{"when": "2020-03-01T00:00:00", "rooms": 3, "owner": "a", "garden": "yes"},
                    {"when": "2020-05-01T00:00:00", "rooms": 5, "owner": "b", "garden": "yes"},
                    {"when": "2021-01-01T00:00:00", "rooms": None, "owner": "b", "garden": "no"}])
    fields = {f["name"]: f for f in presenters.form_fields(model)}
    assert fields["when"]["widget"] == "date" and fields["when"]["value"] == "2020-05-01"
    assert "2020-01-01 to 2021-06-30" in fields["when"]["hint"]
    assert fields["rooms"]["widget"] == "number" and fields["rooms"]["value"] == "3"
    assert fields["rooms"]["hint"] == "seen in training: 1 to 2009"
    assert fields["owner"]["widget"] == "text" and fields["owner"]["value"] == "b"
    assert fields["garden"]["widget"] == "checkbox" and fields["garden"]["checked"] is True
    # an unchecked box sends only its hidden "false"; a checked one sends "false" then "true"
    from werkzeug.datastructures import MultiDict

    sent = MultiDict([("in:when", "2020-01-02"), ("in:rooms", "4"), ("in:owner", "c"), ("in:garden", "false")])
    assert presenters.form_values(model, sent)["garden"] is False
    sent.add("in:garden", "true")
    assert presenters.form_values(model, sent)["garden"] is True
    assert presenters.form_fields(model, {"garden": False})[3]["checked"] is False
    assert presenters.example_row(model) == model.background[0]

    view = presenters.result_view(model, {"predictions": [151234.5], "prediction_ids": ["x"], "warnings": [],
                                          "reasons": [[{"text": "rooms = 3 raised the prediction by 10",
                                                        "effect": 10.0},
                                                       {"text": "when = 2020 lowered it", "effect": -2.0}]]})
    assert view["prediction"] == "151,234"  # 151234.5 rounds half to even
    assert [e["value"] for e in view["errors"]] == ["12.5", "9.25"]
    assert [e["name"] for e in view["errors"]] == ["RMSE", "MAE"] and "bars" not in view
    assert [r["up"] for r in view["reasons"]] == [True, False]


def test_boolean_inputs_are_checkboxes_that_send_false_when_unchecked(app):
    from flask import render_template

    from app.ml.serving import check_rows

    feature = {"name": "garden", "kind": "boolean", "allowed_values": ["no", "yes"]}
    field = {"name": "garden", "input_name": "in:garden", "id": "predict-input-0", "kind": "boolean",
             "widget": "checkbox", "checked": False, "value": "no", "errors": [], "hint": ""}
    with app.test_request_context():
        page = render_template("prediction/_single.html", panel={"fields": [field], "predict_url": "/models/1/predict",
                                                                  "form_errors": [], "result": None})
    hidden = page.index('<input type="hidden" name="in:garden" value="false">')
    box = re.search(r'<input type="checkbox" id="predict-input-0" name="in:garden" value="true"( checked)?>', page)
    assert box and box.group(1) is None and hidden < box.start()  # the box's "true" comes last when sent
    # the form's booleans reach the model in the training file's spelling
    assert list(check_rows([{"garden": True}, {"garden": False}], [feature], max_rows=2).frame["garden"]) == ["yes", "no"]
