"""Sign in: registration, login and logout, the account page and API tokens."""

from __future__ import annotations

from datetime import timedelta


def init_login(app, login_manager) -> None:
    """Flask-Login: sessions from our session rows, and where an anonymous request is sent."""
    from app.blueprints.auth.operations import load_session
    from app.blueprints.auth.views import unauthorized

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "basic"
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])

    @login_manager.user_loader
    def load_user(session_secret: str):
        return load_session(session_secret, idle=idle, absolute=absolute)

    login_manager.unauthorized_handler(unauthorized)
