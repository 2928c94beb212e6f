"""Account operations shared by the HTML views, the API and the CLI.

Secrets (passwords, session ids, API tokens) are stored only as hashes. Services
flush; the request commits.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Conflict, DomainError, Forbidden, NotFound, Unauthorized
from app.extensions import db
from app.models import ApiToken, User, UserSession
from app.models.user import sha256_hex, utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
TOKEN_PREFIX = "csva_"  # noqa: S105 (a public prefix, not a secret)
LAST_USED_RESOLUTION = timedelta(minutes=1)

def add_account_eraser(app, erase: Callable[[User], None]) -> None:
    """Register what a feature must erase for a user before the user row goes."""
    app.extensions.setdefault("account_erasers", []).append(erase)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def validate_credentials(email: str, password: str) -> dict:
    errors: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = ["Not a valid e-mail address."]
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors["password"] = [f"Use at most {MAX_PASSWORD_LENGTH} characters."]
    return errors


def register_user(email: str, password: str, *, registration_open: bool = True,
                  is_admin: bool | None = None) -> User:
    """Create a user; the first user of an installation is its admin."""
    if not registration_open:
        raise Forbidden("Registration is closed on this installation.")
    email = normalise_email(email)
    errors = validate_credentials(email, password)
    if errors:
        raise DomainError("The e-mail or password is not valid.", {"json": errors})
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this e-mail already exists.")
    if is_admin is None:
        is_admin = db.session.scalar(select(func.count(User.id))) == 0
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        raise Unauthorized("Wrong e-mail or password.")
    if not user.active:
        raise Unauthorized("This account is disabled.")
    return user


# --- browser sessions -------------------------------------------------------

def start_session(user: User, *, remember: bool = False) -> str:
    """Open a server-side session and return its secret (what the cookie carries)."""
    secret = secrets.token_urlsafe(32)
    db.session.add(UserSession(user=user, secret_hash=sha256_hex(secret), remember=remember))
    db.session.flush()
    user.session_secret = secret
    return secret


def load_session(secret: str, *, idle: timedelta, absolute: timedelta) -> User | None:
    """The user of a live session, or None when it ended, idled out or grew too old."""
    if not secret:
        return None
    row = db.session.scalar(select(UserSession).where(UserSession.secret_hash == sha256_hex(secret)))
    if row is None:
        return None
    now = utcnow()
    if now - row.created_at > absolute or (not row.remember and now - row.last_seen_at > idle):
        db.session.delete(row)
        return None
    if not row.user.active:
        return None
    if now - row.last_seen_at > LAST_USED_RESOLUTION:
        row.last_seen_at = now
        row.user.last_seen_at = now
    row.user.session_secret = secret
    return row.user


def end_session(secret: str | None) -> None:
    if secret:
        db.session.execute(db.delete(UserSession).where(UserSession.secret_hash == sha256_hex(secret)))


def end_sessions(user: User, *, keep_secret: str | None = None) -> int:
    """End every session of a user but the one kept; returns how many ended."""
    stmt = db.delete(UserSession).where(UserSession.user_id == user.id)
    if keep_secret:
        stmt = stmt.where(UserSession.secret_hash != sha256_hex(keep_secret))
    return db.session.execute(stmt).rowcount or 0


def change_password(user: User, current: str, new: str, *, keep_secret: str | None) -> None:
    """Change the password; every other session and every API token of the user ends."""
    if not check_password_hash(user.password_hash, current or ""):
        raise DomainError("The current password is wrong.", {"json": {"current_password": ["Wrong password."]}})
    errors = validate_credentials(user.email, new)
    if "password" in errors:
        raise DomainError("The new password is not valid.", {"json": {"new_password": errors["password"]}})
    user.password_hash = hash_password(new)
    end_sessions(user, keep_secret=keep_secret)
    now = utcnow()
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now


def set_password(user: User, new: str) -> None:
    """Administrative reset (CLI): ends every session and token."""
    errors = validate_credentials(user.email, new)
    if "password" in errors:
        raise DomainError(errors["password"][0])
    user.password_hash = hash_password(new)
    end_sessions(user)
    now = utcnow()
    for token in user.tokens:
        token.revoked_at = token.revoked_at or now


def delete_account(user: User, password: str) -> None:
    """Erase the user and everything they own."""
    if not check_password_hash(user.password_hash, password or ""):
        raise DomainError("The password is wrong.", {"json": {"password": ["Wrong password."]}})
    erase_account(user)


def erase_account(user: User) -> None:
    """Run every feature's eraser, then delete the user row (also the admin page's delete)."""
    for erase in current_app.extensions.get("account_erasers", []):
        erase(user)
    db.session.delete(user)
    db.session.flush()


# --- API tokens ---------------------------------------------------------------

def create_token(user: User, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the token a name.", {"json": {"name": ["Missing data for required field."]}})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken(user=user, name=name[:100], token_hash=sha256_hex(secret),
                     prefix=secret[: len(TOKEN_PREFIX) + 6], expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    return token, secret


def user_for_token(secret: str) -> User | None:
    """The active user owning a usable token, or None."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret)))
    now = utcnow()
    if token is None or not token.is_usable(now) or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token.user


def list_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


def revoke_token(user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    token.revoked_at = token.revoked_at or utcnow()
    return token


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if token.revoked_at:
        return "revoked"
    if token.expires_at and token.expires_at <= now:
        return "expired"
    return "active"
