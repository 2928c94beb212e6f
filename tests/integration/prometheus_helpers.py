"""Real Prometheus tools for the tests: promtool, amtool, a Prometheus on loopback, node-exporter.

Shared by test_monitoring_config.py and by tests that scrape the running app:

    with start_prometheus({"web": ["127.0.0.1:8123"]}, metrics_token=token) as prom:
        prom.wait_for_targets()
        prom.query('sum(rate(flask_http_request_total[1m]))')

The Prometheus is configured from ops/prometheus/prometheus.yml (the named jobs keep
their metrics path and bearer-token file) and loads ops/prometheus/rules. What the
dashboards and rules query, and the app's metric names, are in monitoring_queries.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
PROMETHEUS_DIR = OPS / "prometheus"
ALERTMANAGER_DIR = OPS / "alertmanager"
GRAFANA_DIR = OPS / "grafana"

# Debian's package names for the binaries; the official images call Alertmanager `alertmanager`.
TOOLS = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "amtool": ("amtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "node-exporter": ("prometheus-node-exporter", "node_exporter"),
}


class PromQLError(AssertionError):
    """Prometheus refused a query (parse or execution error)."""


def require_tool(name: str) -> str:
    """Path of a Prometheus tool; fails under CI (.ci/run installs them), skips elsewhere."""
    for candidate in TOOLS.get(name, (name,)):
        path = shutil.which(candidate)
        if path:
            return path
    message = f"{name} is not installed (Debian: apt-get install prometheus prometheus-alertmanager prometheus-node-exporter)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message + "; .ci/run installs it")
    pytest.skip(message)


def run_tool(name: str, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool(name), *args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_http_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if http_get(url, timeout=2)[0] == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def _serve(args_for_port, ready_path: str, log: Path, attempts: int = 3) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start a server on a free loopback port (retrying if the port was taken meanwhile)."""
    for attempt in range(attempts):
        address = f"127.0.0.1:{free_port()}"
        with log.open("w") as out:
            proc = subprocess.Popen(args_for_port(address), stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_http_ok(f"http://{address}{ready_path}", proc, log)
        except RuntimeError:
            if attempt == attempts - 1 or "address already in use" not in log.read_text():
                raise
            continue
        except BaseException:
            _stop(proc)
            raise
        try:
            yield address, proc
        finally:
            _stop(proc)
        return


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- Prometheus ---------------------------------------------------------------------------


def write_token_file(config_dir: Path, metrics_token: str = "") -> None:
    """What the container does before starting Prometheus: ops/prometheus/entrypoint.sh render."""
    env = {**os.environ, "PROMETHEUS_CONFIG_DIR": str(config_dir), "METRICS_TOKEN": metrics_token}
    subprocess.run(
        [str(PROMETHEUS_DIR / "entrypoint.sh"), "render"], env=env, check=True, timeout=30, capture_output=True
    )


def prometheus_config_dir(dest: Path, metrics_token: str = "") -> Path:
    """A copy of ops/prometheus as the container sees it (token file written); returns the config path."""
    shutil.copytree(PROMETHEUS_DIR, dest, dirs_exist_ok=True)
    write_token_file(dest, metrics_token)
    return dest / "prometheus.yml"


def loopback_config(
    scrape_targets: dict[str, list[str]] | None, scrape_interval: str = "1s"
) -> dict:
    """ops/prometheus/prometheus.yml retargeted: only the given jobs, on the given host:port targets.

    Jobs named like the repo's keep its settings (metrics path, bearer token file); other names get
    a plain scrape. Prometheus always scrapes itself; alerting is dropped (no Alertmanager here).
    """
    repo = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    by_name = {job["job_name"]: job for job in repo["scrape_configs"]}
    config = copy.deepcopy(repo)
    config.pop("alerting", None)
    config["global"].update(
        {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval, "scrape_timeout": scrape_interval}
    )
    jobs = []
    for name, targets in (scrape_targets or {}).items():
        job = copy.deepcopy(by_name.get(name, {"job_name": name}))
        job["static_configs"] = [{"targets": list(targets)}]
        jobs.append(job)
    return {**config, "scrape_configs": jobs}


@dataclass
class Prometheus:
    base_url: str
    config_path: Path
    proc: subprocess.Popen

    def api(self, path: str, **params: str) -> tuple[int, dict]:
        url = f"{self.base_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url)
        return status, json.loads(body)

    def query(self, expr: str, **params: str) -> list[dict]:
        """Instant query; returns the result list. Raises PromQLError with Prometheus's message."""
        status, body = self.api("query", query=expr, **params)
        if status != 200 or body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')} in {expr!r}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [result]

    def metric_names(self) -> set[str]:
        return set(self.api("label/__name__/values")[1]["data"])

    def targets(self) -> list[dict]:
        return self.api("targets")[1]["data"]["activeTargets"]

    def wait_for_targets(self, jobs: set[str] | None = None, timeout: float = 30) -> list[dict]:
        """Wait until every target (of `jobs`) has been scraped successfully; fail naming the others.

        Prometheus 2.x hands new targets to the scraper every 5 s, so the first wait takes ~5 s.
        """
        deadline = time.monotonic() + timeout
        while True:
            targets = [t for t in self.targets() if jobs is None or t["labels"]["job"] in jobs]
            if targets and all(t["health"] == "up" for t in targets):
                return targets
            if time.monotonic() > deadline:
                bad = [(t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
                raise AssertionError(f"targets not up after {timeout} s: {bad}")
            time.sleep(0.2)

    def wait_for_metric(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while name not in self.metric_names():
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not in Prometheus after {timeout} s")
            time.sleep(0.2)


@contextlib.contextmanager
def start_prometheus(
    scrape_targets: dict[str, list[str]] | None = None,
    *,
    metrics_token: str = "",
    scrape_interval: str = "1s",
) -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port with temporary storage and the repo's rules.

    `scrape_targets` maps job names ("web", "node", ...) to host:port targets; `metrics_token`
    goes to the bearer-token file the web job sends, as the container's entrypoint writes it.
    """
    binary = require_tool("prometheus")
    with tempfile.TemporaryDirectory(prefix="prometheus-") as tmp:
        work = Path(tmp)
        config_path = prometheus_config_dir(work / "etc", metrics_token)
        config = loopback_config(scrape_targets, scrape_interval)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))

        def args(address: str) -> list[str]:
            return [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address={address}",
                "--log.level=warn",
            ]

        with _serve(args, "/-/ready", work / "prometheus.log") as (address, proc):
            yield Prometheus(f"http://{address}", config_path, proc)


@contextlib.contextmanager
def start_node_exporter() -> Iterator[str]:
    """node-exporter on a free loopback port; yields its host:port."""
    binary = require_tool("node-exporter")
    with tempfile.TemporaryDirectory(prefix="node-exporter-") as tmp:

        def args(address: str) -> list[str]:
            return [binary, f"--web.listen-address={address}"]

        with _serve(args, "/metrics", Path(tmp) / "node-exporter.log") as (address, _):
            yield address


@contextlib.contextmanager
def serve_wsgi(app, port: int = 0) -> Iterator[str]:
    """A WSGI app (the Flask app) on a loopback port (default: a free one) in a thread; yields host:port."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


# --- Alertmanager ----------------------------------------------------------------------------

ALERTMANAGER_EXAMPLE_ENV = {
    "ALERT_EMAIL_TO": "ops@example.com",
    "ALERT_WEBHOOK_URL": "https://hooks.example.com/alertmanager",
    "SMTP_SMARTHOST": "smtp.example.com:587",
    "SMTP_FROM": "alertmanager@example.com",
    "SMTP_AUTH_USERNAME": "alertmanager@example.com",
    "SMTP_AUTH_PASSWORD": "change-me",
}
"""The environment that renders ops/alertmanager/alertmanager.example.yml."""

ALERTMANAGER_VARIABLES = (
    *ALERTMANAGER_EXAMPLE_ENV,
    "SMTP_REQUIRE_TLS",
    "ALERTMANAGER_TEMPLATE",
    "ALERTMANAGER_CONFIG",
    "ALERTMANAGER_BIN",
)


def render_alertmanager(
    config: Path, env: dict[str, str], *args: str, shell: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ops/alertmanager/entrypoint.sh (default: `render`) with only `env` for its settings."""
    base = {k: v for k, v in os.environ.items() if k not in ALERTMANAGER_VARIABLES}
    full_env = {
        **base,
        "ALERTMANAGER_TEMPLATE": str(ALERTMANAGER_DIR / "alertmanager.yml.tmpl"),
        "ALERTMANAGER_CONFIG": str(config),
        **env,
    }
    return subprocess.run(
        [*(shell or ["sh"]), str(ALERTMANAGER_DIR / "entrypoint.sh"), *(args or ("render",))],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
