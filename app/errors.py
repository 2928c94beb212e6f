"""Domain errors and the one place that maps them (and HTTP errors) to responses.

Under /api/ every error is the JSON shape of API.md; elsewhere an HTML page, or a
small fragment for an htmx request.
"""

from __future__ import annotations

import errno
import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from app.ml.errors import ServiceError

log = logging.getLogger(__name__)


class DomainError(ServiceError):
    """A refusal a user can act on, raised by the web layer's own services."""


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class Unauthorized(DomainError):
    status = 401


class InsufficientStorage(DomainError):
    """The disk is full: nothing was stored (the writer removed its partial files)."""

    status = 507

    def __init__(self, message: str = "The server is out of storage space, so nothing was saved. "
                                      "Try again later or ask the administrator to free space.", errors=None):
        super().__init__(message, errors)


OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT}


def is_out_of_space(exc: BaseException) -> bool:
    """An OSError (or one it was raised from) saying the disk or the quota is full."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def is_out_of_range(exc: BaseException) -> bool:
    """A number too wide for a database column (SQLite raises OverflowError, PostgreSQL a DataError)."""
    from sqlalchemy.exc import DataError

    orig = getattr(exc, "orig", None)
    return isinstance(exc, OverflowError) or isinstance(orig, OverflowError) or (
        isinstance(exc, DataError) and "out of range" in str(exc).lower())


def error_body(status: int, message: str, errors: dict | None = None) -> dict:
    return {
        "code": status,
        "status": HTTP_STATUS_CODES.get(status, "Error"),
        "message": message,
        "errors": errors or {},
    }


def wants_json() -> bool:
    return request.path.startswith("/api/") and not request.path.startswith("/api/docs")


def error_response(status: int, message: str, errors: dict | None = None, headers=None):
    if wants_json():
        response = jsonify(error_body(status, message, errors))
    else:
        template = "core/_error.html" if request.headers.get("HX-Request") else "core/error.html"
        response = render_template(
            template, status=status, title=HTTP_STATUS_CODES.get(status, "Error"),
            message=message, errors=errors or {},
        )
        response = Flask.response_class(response, mimetype="text/html")
        response.headers["Vary"] = "HX-Request"
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def domain_status(exc: Exception) -> int | None:
    """The HTTP status of a refusal from the service layer."""
    status = getattr(exc, "status", None) if isinstance(exc, ServiceError) else None
    return status if isinstance(status, int) and 400 <= status < 600 else None


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or HTTP_STATUS_CODES.get(status, "Error")
        errors = {}
        data = getattr(exc, "data", None) or {}
        if "messages" in data:  # webargs validation errors
            errors = data["messages"]
            message = "The request is not valid."
        elif "message" in data:  # flask_smorest.abort(status, message=...)
            message = data["message"]
            errors = data.get("errors", {})
        headers = dict(data.get("headers") or {})
        if status == 429:
            message = f"Too many requests: {exc.description}. Try again later."
        valid_methods = getattr(exc, "valid_methods", None)
        if status == 405 and valid_methods:
            headers["Allow"] = ", ".join(valid_methods)
        return error_response(status, message, errors, headers)

    @app.errorhandler(Exception)
    def handle_exception(exc: Exception):
        status = domain_status(exc)
        if status is not None:
            return error_response(status, getattr(exc, "message", str(exc)), getattr(exc, "errors", None))
        if is_out_of_space(exc):
            log.error("out of storage space: %s", exc)
            return error_response(507, InsufficientStorage().message)
        if is_out_of_range(exc):
            return error_response(422, "A number in the request is out of range.")
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, InternalServerError.description)
