"""marshmallow's fields for the API schemas, with a DateTime that says UTC.

A drop-in for `from marshmallow import fields` (`from app import api_fields as fields`): every
field is marshmallow's own except DateTime. marshmallow itself is left as it is.
"""

from datetime import UTC, datetime

from marshmallow import fields as _fields
from marshmallow.fields import *  # noqa: F403 (the drop-in: every other field as marshmallow has it)


def utc_isoformat(value: datetime) -> str:
    """Stored times are naive UTC (SQLite keeps no zone): the API says so with +00:00, as the
    OpenAPI date-time format (RFC 3339) requires."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


class DateTime(_fields.DateTime):
    """marshmallow's DateTime whose ISO 8601 output of a naive time is marked UTC."""

    SERIALIZATION_FUNCS = {**_fields.DateTime.SERIALIZATION_FUNCS, "iso": utc_isoformat, "iso8601": utc_isoformat}
