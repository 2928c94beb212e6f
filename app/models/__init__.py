"""SQLAlchemy models, one module per feature."""

from app.models.user import ApiToken, User, UserSession

__all__ = ["ApiToken", "User", "UserSession"]
