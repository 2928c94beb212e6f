"""The app served as `make run` serves it: migrations, then gunicorn on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} in {timeout}s:\n{log.read_text()[-4000:]}")


def server_env(instance: Path, port: int | None = None) -> dict[str, str]:
    """The environment of the served app (and of `flask` commands on its instance)."""
    env = {**os.environ, "INSTANCE_DIR": str(instance), "HOST": "127.0.0.1", "PORT": str(port or 8000),
           "FLASK_APP": "wsgi", "RATELIMIT_ENABLED": "false", "WEB_CONCURRENCY": "2",
           "OMP_NUM_THREADS": "1", "BATCH_SYNC_ROWS": os.environ.get("BATCH_SYNC_ROWS", "100")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


# Runs `flask <args>` for each argument list in one process (the app is imported once, not per command).
_FLASK_COMMANDS = """
import json, sys
from flask.cli import cli
from wsgi import app
for args in json.loads(sys.argv[1]):
    result = app.test_cli_runner().invoke(cli, args=args, catch_exceptions=False)
    print(result.output)
    if result.exit_code:
        sys.exit(f"flask {' '.join(args)}: exit {result.exit_code}")
"""


def flask_cli(env: dict[str, str], *commands: list[str]) -> None:
    """`flask <command>` for each command, in order, in one Python process with the server's environment."""
    result = subprocess.run([sys.executable, "-c", _FLASK_COMMANDS, json.dumps(commands)], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"flask {commands}: {result.returncode}\n{result.stdout[-2000:]}{result.stderr[-4000:]}")


@contextmanager
def serve(instance: Path, **settings: str) -> Iterator[str]:
    """Migrate `instance` and serve it with gunicorn on a free loopback port; yields the base URL.

    `settings` are more environment variables of the server (e.g. METRICS_TOKEN)."""
    port = free_port()
    env = {**server_env(instance, port), **settings}
    # what `make run` does before serving (`flask db upgrade`, `flask init-tracking`), in one process
    flask_cli(env, ["db", "upgrade"], ["init-tracking"])
    log = instance / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "app/gunicorn_conf.py", "wsgi:app"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url + "/healthz", proc, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory) -> Path:
    """The instance folder of the shared live server (for `flask` commands on it)."""
    return tmp_path_factory.mktemp("browser-instance")


# /metrics of the shared server asks for this token (as a deployment's does), so the journey-metrics
# test can scrape it with a real Prometheus instead of starting a server of its own.
LIVE_METRICS_TOKEN = "metrics-token-of-the-shared-live-server"


@pytest.fixture(scope="session")
def live_server(live_instance):
    """Migrate a fresh instance and serve it with gunicorn on a free loopback port."""
    with serve(live_instance, METRICS_TOKEN=LIVE_METRICS_TOKEN) as base_url:
        yield base_url
