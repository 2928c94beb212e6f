"""Security headers on every response and the strict Content Security Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

DATABASE_INT_MAX = 2**63 - 1  # the widest id a database column holds


class BoundedIntConverter(IntegerConverter):
    """<int:...> ids beyond a 64-bit column match no route (404), instead of overflowing the query."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", DATABASE_INT_MAX)
        super().__init__(map, *args, **kwargs)

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


# Swagger UI writes one fixed inline style; allow exactly it, on its page only.
SWAGGER_UI_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"
API_DOCS_CSP = CSP.replace("style-src 'self'", f"style-src 'self' {SWAGGER_UI_STYLE_HASH}")


def register_security(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter  # before any blueprint adds its routes
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    @app.before_request
    def reject_foreign_origin():
        """A browser POST from another site is refused, over HTTP as well as HTTPS."""
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
            return
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            abort(400, description="The request came from another site.")

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", API_DOCS_CSP if request.path == "/api/docs" else CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith("/api/") or response.mimetype == "text/html":
            headers.setdefault("Cache-Control", "no-store")
        return response
