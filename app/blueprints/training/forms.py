"""The train form: read its fields into the body the training service takes.

The bounds are the API's (TrainingRequestSchema), so the browser and the API refuse the same
requests. CSRF is checked for every POST by CSRFProtect; the templates carry the token.
"""

from __future__ import annotations

from marshmallow import ValidationError

from app.blueprints.training.schemas import PreviewRequestSchema, TrainingRequestSchema
from app.errors import DomainError

DEFAULT_BUDGET_S = 60


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
        fields = ", ".join(sorted(exc.messages)) if isinstance(exc.messages, dict) else ""
        raise DomainError(f"Check these fields: {fields}." if fields else "The form is not valid.",
                          {"form": exc.messages}) from None


def preview_request(form, dataset_id: int) -> dict:
    """A checked preview request from the form (422 when a field is out of bounds)."""
    return _load(PreviewRequestSchema(), form_body(form, dataset_id))


def training_request(form, dataset_id: int) -> dict:
    """A checked training request from the form (422 when a field is out of bounds)."""
    return _load(TrainingRequestSchema(), form_body(form, dataset_id))
