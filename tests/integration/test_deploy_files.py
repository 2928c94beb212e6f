"""Deployment files stay valid: compose and CI against their schemas, the image's shape and scripts.

No Docker engine is needed: schemas are check-jsonschema's vendored copies (offline),
the Dockerfile is parsed here, and the container scripts run against stubs.
"""

from __future__ import annotations

import fnmatch
import http.server
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "ops" / "docker" / "entrypoint.sh"
HEALTHCHECK = ROOT / "ops" / "docker" / "healthcheck.py"

# Keys newer than Debian's docker-compose 1.29, which would make it reject the file.
KEYS_UNKNOWN_TO_COMPOSE_129 = {"develop", "include", "start_interval", "models", "provider"}
SECRET = "a-secret-key-long-enough-for-production-checks"


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Validate `path` against one of check-jsonschema's vendored schemas."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def walk_keys(node):
    """Yield every mapping key in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_keys(item)


# --- docker-compose.yml ---------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification():
    result = check_jsonschema("vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "source", "old", "new"),
    [
        ("vendor.compose-spec", COMPOSE, "    init: true\n", "    init: true\n    colour: red\n"),
        ("vendor.github-workflows", WORKFLOW, "runs-on:", "runs-onn:"),
    ],
    ids=["compose", "workflow"],
)
def test_schema_check_rejects_a_corrupted_copy(tmp_path, schema, source, old, new):
    text = source.read_text()
    assert old in text
    copy = tmp_path / source.name
    copy.write_text(text)
    assert check_jsonschema(schema, copy).returncode == 0
    copy.write_text(text.replace(old, new, 1))
    assert check_jsonschema(schema, copy).returncode != 0


def test_compose_web_service_keeps_state_in_a_named_volume_and_requires_a_secret():
    doc = yaml.safe_load(COMPOSE.read_text())
    web = doc["services"]["web"]
    assert "instance" in doc["volumes"]
    assert "instance:/data/instance" in web["volumes"]
    assert web["environment"]["INSTANCE_DIR"] == "/data/instance"
    assert web["environment"]["APP_ENV"] == "production"
    assert web["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert web["healthcheck"]["test"][0] == "CMD"
    assert web["restart"] in {"always", "unless-stopped", "on-failure"}


def test_compose_file_uses_only_keys_docker_compose_1_29_knows():
    doc = yaml.safe_load(COMPOSE.read_text())
    assert "version" in doc, "without `version`, docker-compose 1.29 reads the legacy v1 format"
    assert not KEYS_UNKNOWN_TO_COMPOSE_129 & set(walk_keys(doc))


def _docker_compose_config(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in env_overrides}
    env.update({k: v for k, v in env_overrides.items() if v is not None})
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (Debian: apt-get install docker-compose)",
)
def test_debian_docker_compose_accepts_the_file_and_demands_a_secret_key():
    ok = _docker_compose_config({"SECRET_KEY": SECRET})
    assert ok.returncode == 0, ok.stderr
    missing = _docker_compose_config({"SECRET_KEY": None})
    assert missing.returncode != 0
    assert "SECRET_KEY" in missing.stderr


# --- Dockerfile -----------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions(text):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def test_dockerfile_parser_joins_continuations_and_splits_stages():
    text = "ARG X=1\nFROM a AS b\n# note\nRUN one \\\n    two\nFROM c\nUSER 1\n"
    stages = dockerfile_stages(text)
    assert [[k for k, _ in s] for s in stages] == [["FROM", "RUN"], ["FROM", "USER"]]
    assert stages[0][1] == ("RUN", "one  two")


def test_dockerfile_is_multi_stage_and_runtime_copies_the_built_venv():
    stages = dockerfile_stages(DOCKERFILE.read_text())
    assert len(stages) >= 2
    final = stages[-1]
    assert any(k == "COPY" and args.startswith("--from=") for k, args in final)
    assert not any(k == "RUN" and "pip install" in args for k, args in final), (
        "dependencies belong in the builder stage"
    )


def test_dockerfile_final_stage_runs_as_a_non_root_user():
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    users = [args for k, args in final if k == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_has_a_healthcheck_on_healthz_and_single_threaded_math():
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    healthchecks = [args for k, args in final if k == "HEALTHCHECK"]
    assert healthchecks and "NONE" not in healthchecks[-1].upper()
    assert "/healthz" in HEALTHCHECK.read_text()
    env_args = " ".join(args for k, args in final if k == "ENV")
    assert "OMP_NUM_THREADS=1" in env_args.split()
    assert "PYTHONUNBUFFERED=1" in env_args.split()


def test_dockerfile_copies_only_files_that_exist_and_are_not_dockerignored():
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", "instance"} <= set(ignored)
    for keyword, args in dockerfile_instructions(DOCKERFILE.read_text()):
        if keyword != "COPY" or "--from=" in args:
            continue
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            hits = [p for p in ignored if fnmatch.fnmatch(source, p.removeprefix("**/"))]
            assert not hits, f"COPY {source} is excluded by .dockerignore {hits}"


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_hadolint_finds_nothing():
    result = subprocess.run(
        ["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- container scripts ----------------------------------------------------------------


@pytest.fixture
def stub_bin(tmp_path):
    """A PATH dir whose `flask` and `gunicorn` log their arguments (and gunicorn its pid)."""
    log = tmp_path / "calls.log"
    for name in ("flask", "gunicorn"):
        stub = tmp_path / name
        stub.write_text(
            f'#!/bin/sh\necho "{name} $*" >> "{log}"\necho $$ > "{log}.{name}.pid"\n'
            'exit "${STUB_EXIT:-0}"\n'
        )
        stub.chmod(0o755)
    return tmp_path, log


def run_entrypoint(stub_bin, *args: str, **env: str) -> tuple[int, list[str], int]:
    """Run the entrypoint; return its exit code, the stub calls and its pid."""
    bin_dir, log = stub_bin
    full_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
    proc = subprocess.Popen(
        [str(ENTRYPOINT), *args], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    code = proc.wait(timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return code, calls, proc.pid


def test_entrypoint_is_executable():
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR


def test_entrypoint_migrates_then_execs_the_server_by_default(stub_bin):
    code, calls, pid = run_entrypoint(stub_bin)
    assert code == 0
    assert calls == ["flask --app wsgi db upgrade", "flask --app wsgi init-tracking",
                     "gunicorn -c app/gunicorn_conf.py wsgi:app"]
    # exec, not a child: gunicorn must be the process that receives docker's SIGTERM.
    _, log = stub_bin
    assert int(Path(f"{log}.gunicorn.pid").read_text()) == pid


def test_entrypoint_runs_other_commands_without_migrating_unless_asked(stub_bin, tmp_path):
    marker = tmp_path / "worker-ran"
    code, calls, _ = run_entrypoint(stub_bin, "touch", str(marker))
    assert code == 0 and marker.exists() and calls == []
    code, calls, _ = run_entrypoint(stub_bin, "true", RUN_MIGRATIONS="1")
    assert code == 0 and calls == ["flask --app wsgi db upgrade", "flask --app wsgi init-tracking"]


def test_entrypoint_does_not_serve_when_migration_fails(stub_bin):
    code, calls, _ = run_entrypoint(stub_bin, STUB_EXIT="3")
    assert code == 3
    assert calls == ["flask --app wsgi db upgrade"]


def _serve_status(status: int) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize(("status", "expected_exit"), [(200, 0), (503, 1)])
def test_healthcheck_script_reports_the_healthz_status(status, expected_exit):
    server = _serve_status(status)
    try:
        env = {**os.environ, "PORT": str(server.server_port)}
        result = subprocess.run(
            [sys.executable, str(HEALTHCHECK)],
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == expected_exit


def test_healthcheck_script_fails_when_nothing_listens():
    server = _serve_status(200)
    port = server.server_port
    server.shutdown()
    server.server_close()
    env = {**os.environ, "PORT": str(port)}
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 1


# --- .github/workflows/ci.yml ---------------------------------------------------------


def test_ci_workflow_is_valid_against_the_github_workflows_schema():
    result = check_jsonschema("vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_workflow_lints_tests_with_coverage_audits_and_builds_the_image():
    doc = yaml.safe_load(WORKFLOW.read_text())
    jobs = doc["jobs"]
    assert {"lint", "test", "audit", "docker"} <= set(jobs)

    def runs(job: str) -> str:
        return "\n".join(step.get("run", "") for step in jobs[job]["steps"])

    assert "ruff check" in runs("lint")
    assert {"postgres", "redis"} <= set(jobs["test"]["services"])
    assert "make test" in runs("test")
    addopts = jobs["test"]["env"]["PYTEST_ADDOPTS"]
    assert "--cov=app" in addopts and "--cov-report=xml" in addopts
    assert "pip-audit" in runs("audit")
    assert any(
        "docker/build-push-action" in step.get("uses", "") for step in jobs["docker"]["steps"]
    )
