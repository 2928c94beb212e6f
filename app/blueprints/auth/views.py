"""Auth pages: register, log in, log out, and the account page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.utils import login_url

from app.blueprints.auth import operations as ops
from app.blueprints.auth.forms import (
    DeleteAccountForm,
    EmptyForm,
    LoginForm,
    PasswordChangeForm,
    RegisterForm,
    TokenForm,
)
from app.errors import DomainError
from app.extensions import db, limiter
from app.htmx import go, is_htmx, render

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no '//' or backslash tricks."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("datasets.index")


def unauthorized():
    """Flask-Login's flash and redirect to the login page; for htmx, HX-Redirect instead of a 302,
    which htmx would follow itself and swap the login page into the fragment's target."""
    manager = current_app.login_manager
    flash(manager.login_message, manager.login_message_category)
    next_url = request.full_path.rstrip("?")
    if is_htmx():
        # back to the page the user was on, not to the fragment (or POST-only) URL
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if current.netloc == request.host and current.path.startswith("/"):
            next_url = current.path + (f"?{current.query}" if current.query else "")
        elif request.method != "GET":
            next_url = None
        response = go(login_url(manager.login_view, next_url=next_url))
        response.headers["Vary"] = "HX-Request"
        response.headers["Cache-Control"] = "no-store"
        return response
    return redirect(login_url(manager.login_view, next_url=next_url))


def _sign_in(user, remember: bool) -> None:
    session.clear()  # a new session at login: nothing of the anonymous one survives
    ops.start_session(user, remember=remember)
    login_user(user, remember=remember)


def _login_email_key() -> str:
    return "login:" + ops.normalise_email(request.form.get("email", ""))


@bp.route("/auth/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"], methods=["POST"])
def register():
    """Create an account and sign in."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = ops.register_user(form.email.data, form.password.data,
                                     registration_open=current_app.config["REGISTRATION_OPEN"])
        except DomainError as exc:
            form.form_errors.append(exc.message)
            for field, messages in exc.errors.get("json", {}).items():
                getattr(form, field).errors = list(messages)
            return render("auth/register.html", form=form), exc.status
        _sign_in(user, remember=False)
        db.session.commit()
        flash("Welcome! Upload a CSV file to begin.", "success")
        return redirect(url_for("datasets.index"))
    return render("auth/register.html", form=form), 422 if form.errors else 200


@bp.route("/auth/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"],
               key_func=_login_email_key)
def login():
    """Sign in with e-mail and password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = ops.authenticate(form.email.data, form.password.data)
        except DomainError as exc:
            form.form_errors.append(exc.message)
            return render("auth/login.html", form=form), 401
        _sign_in(user, remember=form.remember.data)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")))
    return render("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/auth/logout", methods=["GET", "POST"])
def logout():
    """End this session on the server and forget the cookie (GET shows a confirm button)."""
    form = EmptyForm()
    if request.method == "GET":
        return render("auth/logout.html", form=form)
    if form.validate_on_submit():
        if current_user.is_authenticated:
            ops.end_session(current_user.get_id())
            db.session.commit()
        logout_user()
        session.clear()
        flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


def _account_page(status: int = 200, **context):
    """The account page; `context` overrides a form (to show its errors) or adds a new token."""
    context.setdefault("password_form", PasswordChangeForm(prefix="pw"))
    context.setdefault("token_form", TokenForm(prefix="tok"))
    context.setdefault("delete_form", DeleteAccountForm(prefix="del"))
    return render("auth/account.html", tokens=ops.list_tokens(current_user), empty_form=EmptyForm(),
                  token_status=ops.token_status, **context), status


@bp.route("/account")
@login_required
def account():
    """Password change, API tokens and account deletion."""
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    """Change the password; every other session and every token ends."""
    form = PasswordChangeForm(prefix="pw")
    if not form.validate_on_submit():
        return _account_page(422, password_form=form)
    try:
        ops.change_password(current_user, form.current_password.data, form.new_password.data,
                            keep_secret=current_user.get_id())
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _account_page(exc.status, password_form=form)
    db.session.commit()
    flash("Password changed. Your other sessions and your API tokens were ended.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    """End every session of this user, this one included."""
    if EmptyForm().validate_on_submit():
        ops.end_sessions(current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are signed out everywhere.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/tokens", methods=["POST"])
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_TOKENS"])
def create_token():
    """Create an API token and show its secret once."""
    form = TokenForm(prefix="tok")
    if not form.validate_on_submit():
        return _account_page(422, token_form=form)
    token, secret = ops.create_token(current_user, form.name.data, form.expires_in_days.data)
    db.session.commit()
    return _account_page(new_token=secret, new_token_name=token.name)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    """Revoke one of your tokens."""
    if EmptyForm().validate_on_submit():
        ops.revoke_token(current_user, token_id)
        db.session.commit()
        flash("Token revoked.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/delete", methods=["POST"])
@login_required
def delete_account():
    """Erase the account and everything it owns."""
    form = DeleteAccountForm(prefix="del")
    if not form.validate_on_submit():
        return _account_page(422, delete_form=form)
    try:
        ops.delete_account(current_user, form.password.data)
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _account_page(exc.status, delete_form=form)
    db.session.commit()
    logout_user()
    session.clear()
    flash("Your account and everything in it were deleted.", "success")
    return redirect(url_for("auth.register"))
