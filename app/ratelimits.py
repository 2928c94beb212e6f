"""Rate-limit keys: per user where one is signed in (token or session), else per address."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user


def per_user() -> str:
    user = g.get("api_user")
    if user is None and not request.path.startswith("/api/") and current_user.is_authenticated:
        user = current_user  # the API never reads the session cookie
    return f"user:{user.id}" if user is not None else f"addr:{request.remote_addr}"
