"""Flask extensions, created unbound; create_app() binds them. Imports nothing from the app."""

from datetime import UTC, datetime

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from marshmallow import fields
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
api = Api()
limiter = Limiter(key_func=get_remote_address)


def _utc_isoformat(value: datetime) -> str:
    """Stored times are naive UTC (SQLite keeps no zone): the API says so with +00:00, as the
    OpenAPI date-time format (RFC 3339) requires."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


fields.DateTime.SERIALIZATION_FUNCS = {**fields.DateTime.SERIALIZATION_FUNCS,
                                       "iso": _utc_isoformat, "iso8601": _utc_isoformat}
