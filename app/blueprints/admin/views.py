"""The admin page: every user with their storage and activity; disable, enable or delete one.

Only admins see it; to anyone else it does not exist (404). Every action is a POST with
the CSRF token of EmptyForm.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required

from app.blueprints.admin import service
from app.blueprints.admin.usage import quota_bytes
from app.blueprints.auth.forms import EmptyForm
from app.errors import DomainError
from app.extensions import db
from app.htmx import go, render

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)
    return wrapper


def _checked_form() -> None:
    if not EmptyForm().validate_on_submit():
        raise DomainError("The form expired; reload the page and try again.", status=400)


@bp.route("")
@admin_required
def index():
    """Users with storage use, datasets, models and last activity."""
    return render("admin/index.html", users=service.users_overview(), form=EmptyForm(),
                  quota=quota_bytes(), me=current_user.id)


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@admin_required
def disable(user_id: int):
    _checked_form()
    user = service.disable_user(current_user, service.get_user(user_id))
    db.session.commit()
    flash(f"{user.email} is disabled: signed out everywhere, API tokens refused.", "success")
    return go(url_for("admin.index"))


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@admin_required
def enable(user_id: int):
    _checked_form()
    user = service.enable_user(current_user, service.get_user(user_id))
    db.session.commit()
    flash(f"{user.email} can sign in again.", "success")
    return go(url_for("admin.index"))


@bp.route("/users/<int:user_id>/delete", methods=["POST"])
@admin_required
def delete(user_id: int):
    _checked_form()
    email = service.delete_user(current_user, service.get_user(user_id))
    db.session.commit()
    flash(f"{email} and everything they stored were deleted.", "success")
    return go(url_for("admin.index"))
