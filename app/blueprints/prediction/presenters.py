"""What the prediction panel shows: form fields from the input schema, results, code examples."""

from __future__ import annotations

import json
import statistics
from collections import Counter

from flask import url_for

from app.ml.serving import TRUE_WORDS
from app.models import Job, TrainedModel

INPUT_PREFIX = "in:"  # form names of the model's inputs (a feature may be called csrf_token)
NUMERIC = ("integer", "float")


def _number(value) -> str:
    """A number as people write it: 151,234 / 2008 / 12.35 / 0.004213 (no exponents below 1e15)."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))  # years stay 2008
    if abs(value) >= 1e15 or abs(value) < 1e-4:
        return f"{value:.4g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")


def typical_row(model: TrainedModel) -> dict:
    """A typical input: the median of each numeric input and the most common value of the others."""
    rows = [r for r in (model.background or []) if isinstance(r, dict)]
    typical = {}
    for feature in model.features or []:
        name, kind = feature["name"], feature["kind"]
        values = [r.get(name) for r in rows if r.get(name) is not None]
        if not values:
            typical[name] = None
        elif kind in NUMERIC and all(isinstance(v, int | float) for v in values):
            middle = statistics.median_low(values)
            typical[name] = int(middle) if kind == "integer" else middle
        elif kind == "datetime":
            typical[name] = sorted(str(v) for v in values)[len(values) // 2]
        else:
            typical[name] = Counter(str(v) for v in values).most_common(1)[0][0]
    return typical


def _shown(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "datetime":
        return str(value)[:10]
    return str(value)


def form_fields(model: TrainedModel, values: dict | None = None, errors: dict | None = None) -> list[dict]:
    """One field per input: a select with the training values, a number with its range, a date, or text."""
    values = typical_row(model) if values is None else values
    errors = errors or {}
    fields = []
    for i, feature in enumerate(model.features or []):
        name, kind = feature["name"], feature["kind"]
        field = {"name": name, "input_name": INPUT_PREFIX + name, "id": f"predict-input-{i}", "kind": kind,
                 "value": _shown(values.get(name), kind), "errors": errors.get(name, []), "hint": ""}
        allowed = feature.get("allowed_values")
        if kind == "boolean":
            field["widget"] = "checkbox"  # the form also sends a hidden "false": unchecked is false
            field["checked"] = field["value"].strip().lower() in TRUE_WORDS
        elif kind == "categorical" and allowed:
            field["widget"] = "select"
            field["options"] = list(allowed)
            if field["value"] and field["value"] not in allowed:
                field["options"].append(field["value"])
        elif kind in NUMERIC:
            field["widget"] = "number"
            if feature.get("min") is not None and feature.get("max") is not None:
                field["hint"] = f"seen in training: {_number(feature['min'])} to {_number(feature['max'])}"
        elif kind == "datetime":
            field["widget"] = "date"
            if feature.get("min") and feature.get("max"):
                field["hint"] = f"seen in training: {str(feature['min'])[:10]} to {str(feature['max'])[:10]}"
        else:
            field["widget"] = "text"
        fields.append(field)
    return fields


def form_values(model: TrainedModel, form) -> dict:
    """The submitted inputs as one row for the prediction service; an empty field is a missing value."""
    row = {}
    for feature in model.features or []:
        if feature["kind"] == "boolean":
            # hidden "false", then the box's "true" when it is checked; the model's own spelling follows
            sent = [v.strip().lower() for v in form.getlist(INPUT_PREFIX + feature["name"])]
            row[feature["name"]] = any(v in TRUE_WORDS for v in sent)
            continue
        value = form.get(INPUT_PREFIX + feature["name"], "")
        row[feature["name"]] = value if value.strip() else None
    return row


def field_errors(errors: dict) -> tuple[dict, list[str]]:
    """{feature: [messages]} of the first row from the service's errors, and any other messages."""
    rows = (errors or {}).get("json", {}).get("rows", {})
    if isinstance(rows, dict):
        first = rows.get("0") or rows.get(0) or {}
        other = [m for k, msgs in first.items() if k == "_schema" for m in msgs]
        return {k: v for k, v in first.items() if k != "_schema"}, other
    return {}, [str(m) for m in rows] if isinstance(rows, list) else []


def result_view(model: TrainedModel, answer: dict) -> dict:
    """The prediction of the one row: the value, class probabilities or the held-out error, reasons."""
    prediction = answer["predictions"][0]
    view = {"task": model.task, "warnings": answer.get("warnings", []),
            "prediction_id": (answer.get("prediction_ids") or [None])[0]}
    if model.task == "classification":
        view["prediction"] = str(prediction)
        probabilities = (answer.get("probabilities") or [{}])[0]
        view["bars"] = [{"label": label, "value": round(p, 4), "percent": f"{p * 100:.1f} %",
                         "predicted": label == str(prediction)}
                        for label, p in sorted(probabilities.items(), key=lambda kv: -kv[1])]
    else:
        view["prediction"] = _number(float(prediction)) if isinstance(prediction, int | float) else str(prediction)
        metrics = model.metrics or {}
        view["errors"] = [{"name": label, "value": _number(float(metrics[key]))}
                          for key, label in (("rmse", "RMSE"), ("mae", "MAE"))
                          if isinstance(metrics.get(key), int | float)]
    view["reasons"] = [{"text": r["text"], "up": r["effect"] > 0}
                       for r in (answer.get("reasons") or [[]])[0]]
    return view


def example_row(model: TrainedModel) -> dict:
    """A real training row (the first of the stored sample), with exactly the model's inputs."""
    first = next((r for r in (model.background or []) if isinstance(r, dict)), None)
    source = first if first is not None else typical_row(model)
    return {f["name"]: source.get(f["name"]) for f in model.features or []}


def code_examples(model: TrainedModel) -> dict:
    """Copy-paste curl and Python calls of the JSON endpoint, with a real row and $TOKEN."""
    url = url_for("prediction_api.Predict", model_id=model.id, _external=True)
    body = json.dumps({"rows": [example_row(model)], "explain": True}).replace("'", "'\\''")  # shell quoting
    curl = (f'curl -X POST "{url}" \\\n  -H "Authorization: Bearer $TOKEN" \\\n'
            f'  -H "Content-Type: application/json" \\\n  -d \'{body}\'')
    python = (f"import os\n\nimport requests\n\nresponse = requests.post(\n    {url!r},\n"
              f"    headers={{\"Authorization\": f\"Bearer {{os.environ['TOKEN']}}\"}},\n"
              f"    json={{\"rows\": [{example_row(model)!r}], \"explain\": True}},\n    timeout=30,\n)\n"
              "response.raise_for_status()\nanswer = response.json()\n"
              "print(answer[\"predictions\"], answer.get(\"probabilities\"))\n")
    return {"url": url, "curl": curl, "python": python, "account_url": url_for("auth.account")}


def batch_error_details(exc) -> list[str]:
    """The messages under a batch refusal: missing columns, or the rows and features that do not fit."""
    details = []
    for place in ("files", "json", "form"):
        for value in ((exc.errors or {}).get(place) or {}).values():
            if isinstance(value, list):
                details += [str(m) for m in value]
            elif isinstance(value, dict) and isinstance(value.get("rows"), dict):
                for row, problems in list(value["rows"].items())[:10]:
                    for feature, messages in (problems or {}).items():
                        details.append(f"Row {row}, {feature}: {'; '.join(map(str, messages))}")
            else:
                details.append(str(value))
    return [d for d in details if d != exc.message]


def batch_job_view(job: Job) -> dict:
    """A batch job as the panel shows it: progress while it runs, then the download link or the error."""
    progress = job.progress or {}
    request = job.request or {}
    fraction = float(progress.get("fraction") or 0.0)
    return {
        "id": job.id, "status": job.status, "active": job.status in ("queued", "running"),
        "percent": int(fraction * 100), "message": progress.get("message") or "Waiting for a free slot",
        "n_rows": _number(int(request.get("n_rows") or 0)),
        "source": "stored dataset" if request.get("source") == "dataset" else "uploaded file",
        "error": job.error,
        "status_url": url_for("prediction.batch_job", job_id=job.id),
        "download_url": url_for("prediction.batch_download", job_id=job.id) if job.status == "succeeded" else None,
        "model_url": url_for("training.model", model_id=request["model_id"]) if request.get("model_id") else None,
    }
