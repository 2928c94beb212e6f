"""Fragment or page: one helper for every view (STYLE.md, convention 10)."""

from __future__ import annotations

from flask import make_response, redirect, render_template, request


def is_htmx() -> bool:
    """A partial request from htmx, not a history restore (which needs the full page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render(page: str, fragment: str | None = None, **context):
    """Render `fragment` for an htmx request and `page` otherwise, with Vary: HX-Request."""
    template = fragment if fragment and is_htmx() else page
    response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


def go(url: str):
    """Navigate: HX-Redirect for htmx (a full page load), a 303 otherwise."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)
