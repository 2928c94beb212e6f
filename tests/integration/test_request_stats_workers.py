"""Request statistics under gunicorn with two workers: every worker writes its own rows, readers sum them,
and what a worker holds when the server stops is written at exit (SQLite, the embedded mode)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from urllib.error import HTTPError

import pytest

from tests.live_server import ROOT, free_port, wait_until_up

PASSWORD = "a long enough password"


def call(base: str, path: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except HTTPError as exc:
        return exc.code, None


@pytest.mark.slow
def test_two_workers_are_summed_and_written_at_exit(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "HOST": "127.0.0.1", "PORT": str(port), "FLASK_APP": "wsgi",
           "RATELIMIT_ENABLED": "false", "WEB_CONCURRENCY": "2", "OMP_NUM_THREADS": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    log = tmp_path / "server.log"

    def http_figures(token: str) -> dict:
        status, body = call(base, "/api/v1/metrics", token=token)
        assert status == 200
        return body["http"]

    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(base + "/healthz", proc, log)
        assert call(base, "/api/v1/auth/register", "POST", {"email": "ops@example.com", "password": PASSWORD})[0] == 201
        _, body = call(base, "/api/v1/auth/tokens", "POST",
                       {"email": "ops@example.com", "password": PASSWORD, "name": "ops"})
        token = body["token"]  # the first account is the admin
        for _ in range(30):
            assert call(base, "/api/v1/datasets", token=token)[0] == 200
        for _ in range(10):
            assert call(base, "/api/v1/datasets/987654", token=token)[0] == 404
        # Whichever worker answered, each writes its rows every ~10 s, on its own clock: the
        # reader sees every request once both have written (one may have written its 404s while
        # the other still holds its 200s).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            figures = http_figures(token)
            if figures["errors_4xx"] >= 10 and figures["requests"] >= 42:
                break
            time.sleep(1)
        assert figures["errors_4xx"] == 10 and figures["errors_5xx"] == 0
        assert figures["requests"] >= 42  # register, token, 30 + 10, and the metrics calls
        assert figures["p95_latency_ms"] > 0

        for _ in range(20):
            assert call(base, "/no-such-page")[0] == 404
    finally:
        proc.terminate()  # a graceful stop: each worker writes what it holds in its exit hook
        proc.wait(timeout=60)
    with sqlite3.connect(tmp_path / "csv_analyzer.sqlite3") as db:
        (errors,) = db.execute("SELECT SUM(count) FROM request_stats WHERE status_class = 4").fetchone()
    assert errors == 30  # the last 20 404s were still in the workers' memory at the stop
