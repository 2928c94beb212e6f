"""The app served as `make run` serves it: migrations, then gunicorn on a free loopback port."""

from __future__ import annotations

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


@contextmanager
def serve(instance: Path) -> Iterator[str]:
    """Migrate `instance` and serve it with gunicorn on a free loopback port; yields the base URL."""
    port = free_port()
    env = {**os.environ, "INSTANCE_DIR": str(instance), "HOST": "127.0.0.1", "PORT": str(port),
           "FLASK_APP": "wsgi", "RATELIMIT_ENABLED": "false", "WEB_CONCURRENCY": "2",
           "OMP_NUM_THREADS": "1", "BATCH_SYNC_ROWS": os.environ.get("BATCH_SYNC_ROWS", "100")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for setup in (["db", "upgrade"], ["init-tracking"]):  # what `make run` does before serving
        subprocess.run([sys.executable, "-m", "flask", *setup], cwd=ROOT, env=env, check=True,
                       capture_output=True)
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
def live_server(tmp_path_factory):
    """Migrate a fresh instance and serve it with gunicorn on a free loopback port."""
    with serve(tmp_path_factory.mktemp("browser-instance")) as base_url:
        yield base_url
