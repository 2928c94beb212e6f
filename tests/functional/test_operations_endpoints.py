"""Health, readiness, metrics, the OpenAPI spec and its docs page, headers and logs."""

from __future__ import annotations

import json
import logging

import pytest
from openapi_spec_validator import validate


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_names_what_is_not_usable(app, client):
    assert client.get("/readyz").status_code == 200
    data_dir = app.config["DATA_DIR"]
    data_dir.rename(data_dir.with_name("moved"))
    data_dir.write_text("not a directory")
    r = client.get("/readyz")
    assert r.status_code == 503
    assert any(problem.startswith("data directory") for problem in r.json["problems"])


def test_openapi_is_valid_and_declares_bearer_auth(client):
    spec = client.get("/api/openapi.json").json
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API token."}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/auth/register"]["post"]["security"] == []
    assert spec["paths"]["/api/v1/auth/tokens"]["post"]["security"] == []
    assert "security" not in spec["paths"]["/api/v1/auth/me"]["get"]  # inherits bearer


def test_api_docs_use_vendored_swagger_ui(client):
    html = client.get("/api/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    assert "<script>" not in html  # no inline script under the CSP
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_metrics_are_labelled_by_url_rule(client, api_headers):
    for token_id in (101, 102, 103):
        client.delete(f"/api/v1/auth/tokens/{token_id}", headers=api_headers)
    text = client.get("/metrics").text
    assert 'url_rule="/api/v1/auth/tokens/<int:token_id>"' in text
    assert "/api/v1/auth/tokens/101" not in text
    assert 'flask_http_request_total{method="DELETE",status="404"} 3.0' in text
    assert 'app_info{version="0.1.0"} 1.0' in text


def test_metrics_token_protects_metrics(make_config):
    from app import create_app

    client = create_app(make_config(METRICS_TOKEN="s3cret-metrics")).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"}).status_code == 200


@pytest.mark.parametrize("url", ["/auth/login", "/api/v1/auth/me", "/healthz", "/nope"])
def test_security_headers_on_every_response(client, url):
    r = client.get(url)
    csp = r.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"]


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    assert "Strict-Transport-Security" in client.get("/healthz", base_url="https://localhost").headers


def test_session_cookie_flags(client, make_user, login):
    make_user()
    login()
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_html_errors_are_pages_and_api_errors_are_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "404" in page.text
    fragment = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and "<html" not in fragment.text


def test_unhandled_error_is_500_without_a_trace(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    r = client.get("/boom")
    assert r.status_code == 500
    assert "secret internals" not in r.text and "Traceback" not in r.text


def test_request_id_is_returned_and_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="csv_analyzer.access")
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id <x>"}).headers["X-Request-ID"] != "bad id <x>"
    from app.request_log import JsonFormatter

    record = next(rec for rec in caplog.records if getattr(rec, "path", None) == "/healthz")
    assert json.loads(JsonFormatter().format(record))["status"] == 200


def test_production_refuses_missing_or_default_secret(tmp_path, monkeypatch):
    from app import create_app
    from config import ProductionConfig

    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    for value in (None, "change-me", "short"):
        if value is None:
            monkeypatch.delenv("SECRET_KEY", raising=False)
        else:
            monkeypatch.setenv("SECRET_KEY", value)
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app(ProductionConfig())
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    assert create_app(ProductionConfig()).config["SECRET_KEY"] == "x" * 40


def test_embedded_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    from config import Config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "inst"))
    first, second = Config(), Config()
    first.finalise()
    second.finalise()
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) >= 32
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_psycopg3():
    from config import normalise_database_url

    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_metrics_answer_even_when_the_database_does_not(make_config, tmp_path):
    from app import create_app

    app = create_app(make_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    r = app.test_client().get("/metrics")
    assert r.status_code == 200
    assert "csv_analyzer_jobs_running" in r.text
