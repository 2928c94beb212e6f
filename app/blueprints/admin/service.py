"""Admin use cases: the users overview, disable, enable and delete a user.

Nobody acts on their own account here, and the last active admin can be neither
disabled nor deleted. A disabled user cannot sign in, their sessions are ended and
their API tokens answer 401 (app.blueprints.auth.operations checks `active`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.blueprints.admin.usage import quota_bytes, storage_use
from app.blueprints.auth import operations as ops
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import ApiToken, Dataset, TrainedModel, User, UserSession


@dataclass
class UserRow:
    id: int
    email: str
    is_admin: bool
    active: bool
    created_at: datetime
    storage_bytes: int
    datasets: int
    models: int
    last_activity: datetime | None
    over_quota: bool


def _counts(model) -> dict[int, int]:
    stmt = select(model.user_id, func.count(model.id)).group_by(model.user_id)
    return dict(db.session.execute(stmt).all())


def _latest(column, user_column) -> dict[int, datetime]:
    return {uid: at for uid, at in db.session.execute(select(user_column, func.max(column)).group_by(user_column))
            if at is not None}


def users_overview() -> list[UserRow]:
    """Every user with storage use, datasets, models and last activity, newest first."""
    users = list(db.session.scalars(select(User).order_by(User.id.desc())))
    use = storage_use()
    datasets = _counts(Dataset)
    models = _counts(TrainedModel)
    seen = [_latest(UserSession.last_seen_at, UserSession.user_id),
            _latest(ApiToken.last_used_at, ApiToken.user_id)]
    quota = quota_bytes()
    rows = []
    for user in users:
        times = [t for t in [user.last_seen_at, *(s.get(user.id) for s in seen)] if t is not None]
        rows.append(UserRow(
            id=user.id, email=user.email, is_admin=user.is_admin, active=user.active,
            created_at=user.created_at, storage_bytes=use.get(user.id, 0),
            datasets=datasets.get(user.id, 0), models=models.get(user.id, 0),
            last_activity=max(times) if times else None,
            over_quota=quota is not None and use.get(user.id, 0) > quota))
    return rows


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _check_may_remove(actor: User, target: User, action: str) -> None:
    if actor.id == target.id:
        raise Conflict(f"You cannot {action} your own account here.")
    if target.is_admin and target.active:
        admins = db.session.scalar(select(func.count(User.id)).where(User.is_admin, User.active))
        if admins <= 1:
            raise Conflict(f"You cannot {action} the last active admin.")


def disable_user(actor: User, target: User) -> User:
    """Disable an account: no sign-in, sessions ended, tokens refused (they are kept for enable)."""
    _check_may_remove(actor, target, "disable")
    target.active = False
    ops.end_sessions(target)
    db.session.flush()
    return target


def enable_user(actor: User, target: User) -> User:
    target.active = True
    db.session.flush()
    return target


def delete_user(actor: User, target: User) -> str:
    """Erase the account and everything it owns (the same path as deleting one's own account)."""
    _check_may_remove(actor, target, "delete")
    email = target.email
    ops.erase_account(target)
    return email
