"""Our API's times say UTC through our own DateTime field; marshmallow itself is not patched."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime

from marshmallow import Schema, fields

import app.blueprints
from app import api_fields


def api_schemas() -> list[type[Schema]]:
    """Every Schema class defined in the blueprints' schema modules."""
    found = []
    for info in pkgutil.walk_packages(app.blueprints.__path__, "app.blueprints."):
        if info.name.rsplit(".", 1)[-1].endswith("schemas"):
            module = importlib.import_module(info.name)
            found += [v for v in vars(module).values()
                      if isinstance(v, type) and issubclass(v, Schema) and v.__module__ == module.__name__]
    return found


def test_marshmallow_datetime_is_left_as_marshmallow_has_it():
    naive = datetime(2026, 11, 27, 1, 2, 3)
    assert fields.DateTime().serialize("t", {"t": naive}) == "2026-11-27T01:02:03"
    assert api_fields.DateTime().serialize("t", {"t": naive}) == "2026-11-27T01:02:03+00:00"


def test_every_datetime_of_the_api_schemas_is_ours():
    schemas = api_schemas()
    assert len(schemas) > 10, "the schema modules were found"
    others = [f"{schema.__module__}.{schema.__name__}.{name}" for schema in schemas
              for name, field in schema._declared_fields.items()
              if isinstance(field, fields.DateTime) and not isinstance(field, api_fields.DateTime)]
    assert not others, others


def test_an_api_answer_marks_its_times_utc(client, api_headers):
    tokens = client.get("/api/v1/auth/tokens", headers=api_headers).json
    assert tokens and all(t["created_at"].endswith("+00:00") for t in tokens)
