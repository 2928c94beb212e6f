"""Bearer-token authentication for every JSON API blueprint.

It runs as a before_request hook, so an anonymous call is 401 before its body is
parsed. The API never reads the session cookie: the user is `g.api_user`.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import Blueprint

from app.blueprints.auth.operations import user_for_token
from app.errors import error_response


def public(func):
    """Mark an API method as open without a token (register, create token)."""
    func._public = True
    return func


def _is_public() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class else view
    return bool(getattr(method, "_public", False))


def _authenticate():
    if request.method == "OPTIONS" or _is_public():
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    user = user_for_token(secret.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        response = error_response(401, "A valid API token is required: send 'Authorization: Bearer <token>'.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="csv-analyzer"'
        return response
    g.api_user = user
    return None


def api_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A flask-smorest blueprint under /api/v1 that requires a bearer token."""
    kwargs.setdefault("url_prefix", "/api/v1")
    bp = Blueprint(name, import_name, **kwargs)
    bp.before_request(_authenticate)
    return bp


def api_user():
    return g.api_user
