"""The one base of every refusal the service layer raises (no Flask here).

`status` is the HTTP status the web layer answers with, `message` is for a person and
`errors` says what was wrong with each field ({field: [messages]}, nested as marshmallow does).
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 422

    def __init__(self, message: str, errors: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if status is not None:
            self.status = status
