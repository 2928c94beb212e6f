"""The train form: read its fields into the body the training service takes.

The bounds are the API's (TrainingRequestSchema), so the browser and the API refuse the same
requests. CSRF is checked for every POST by CSRFProtect; the templates carry the token.
"""

from __future__ import annotations

from marshmallow import ValidationError

from app.blueprints.training.schemas import PreviewRequestSchema, TrainingRequestSchema
from app.errors import DomainError

DEFAULT_BUDGET_S = 60
FIELD_LABELS = {"target": "Target column", "task": "Task", "exclude_columns": "Columns left out",
                "time_budget_s": "Time budget", "metric": "Metric", "models": "Model families"}


def _blank_to_none(value: str | None):
    value = (value or "").strip()
    return value or None


def form_body(form, dataset_id: int) -> dict:
    """The raw request a train form describes (not yet validated)."""
    body = {
        "dataset_id": dataset_id,
        "target": form.get("target", ""),
        "task": _blank_to_none(form.get("task")),
        "exclude_columns": form.getlist("exclude_columns") or None,
        "metric": _blank_to_none(form.get("metric")),
        "models": form.getlist("models") or None,
    }
    budget = _blank_to_none(form.get("time_budget_s"))
    body["time_budget_s"] = budget if budget is not None else DEFAULT_BUDGET_S
    return body


def _load(schema, body: dict) -> dict:
    try:
        return schema.load({k: v for k, v in body.items() if k in schema.fields})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"form": exc.messages}
        detail = "; ".join(f"{FIELD_LABELS.get(k, k)}: {_flat(v)}" for k, v in sorted(messages.items()))
        raise DomainError(f"Check the form. {detail}", {"form": messages}) from None


def _flat(messages) -> str:
    if isinstance(messages, dict):
        return " ".join(_flat(v) for v in messages.values())
    if isinstance(messages, list):
        return " ".join(_flat(v) for v in messages)
    return str(messages)


def preview_request(form, dataset_id: int) -> dict:
    """A checked preview request from the form (422 when a field is out of bounds)."""
    return _load(PreviewRequestSchema(), form_body(form, dataset_id))


def training_request(form, dataset_id: int) -> dict:
    """A checked training request from the form (422 when a field is out of bounds)."""
    return _load(TrainingRequestSchema(), form_body(form, dataset_id))
