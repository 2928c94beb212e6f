"""Deployment files stay valid: compose, CI and Kubernetes against their schemas, the
image's shape and scripts, and the wiring between them.

No Docker engine or cluster is needed: schemas are check-jsonschema's and
kubernetes-validate's vendored copies (offline), the Dockerfile is parsed here, and the
container scripts run against stubs.
"""

from __future__ import annotations

import copy
import fnmatch
import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docs" / "env.example"
README = ROOT / "README.md"
PROMETHEUS_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
POSTGRES_INITDB = ROOT / "ops" / "postgres" / "initdb"
K8S = ROOT / "ops" / "k8s"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "ops" / "docker" / "entrypoint.sh"
HEALTHCHECK = ROOT / "ops" / "docker" / "healthcheck.py"

# Keys newer than Debian's docker-compose 1.29, which would make it reject the file.
KEYS_UNKNOWN_TO_COMPOSE_129 = {"develop", "include", "start_interval", "models", "provider"}
SECRET = "a-secret-key-long-enough-for-production-checks"
# What `docker compose` demands from the environment (or .env), with example values.
REQUIRED_ENV = {
    "SECRET_KEY": SECRET,
    "POSTGRES_PASSWORD": "a-postgres-password",
    "GRAFANA_ADMIN_PASSWORD": "a-grafana-password",
    "ALERT_EMAIL_TO": "ops@example.com",
    "ALERT_WEBHOOK_URL": "https://hooks.example.com/alertmanager",
    "SMTP_SMARTHOST": "smtp.example.com:587",
}


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


needs_docker_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose not installed (Debian: apt-get install docker-compose)",
)


@needs_docker_compose
def test_debian_docker_compose_accepts_the_file():
    ok = _docker_compose_config(REQUIRED_ENV)
    assert ok.returncode == 0, ok.stderr


@needs_docker_compose
@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD"])
def test_debian_docker_compose_demands_the_secrets(missing):
    refused = _docker_compose_config({**REQUIRED_ENV, missing: None})
    assert refused.returncode != 0
    assert missing in refused.stderr


# --- the scale-out and monitoring stack in docker-compose.yml ------------------------------

STACK = {"web", "worker", "redis", "postgres", "mlflow", "prometheus", "alertmanager",
         "grafana", "node-exporter"}
APP_SERVICES = {"web", "worker", "mlflow"}  # run the image built from the Dockerfile
PINNED_IMAGES = {
    "prometheus": "prom/prometheus:v2.53.3",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana:11.2.0",
    "node-exporter": "prom/node-exporter:v1.8.2",
}
WORKER_COMMAND = ["celery", "-A", "app.jobs.celery_app", "worker"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def default_value(text: str) -> str:
    """`${NAME:-default}` and `${NAME:?message}` references replaced by their default ('')."""
    return re.sub(r"\$\{(\w+)(?::?[-?]([^}]*))?\}",
                  lambda m: (m.group(2) or "") if ":-" in m.group(0) else "", text)


def option(command: list[str], name: str) -> str | None:
    """The value of `--name=value` in a command list."""
    for arg in command:
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def named_volume_mounts(service: dict) -> dict[str, str]:
    """{named volume: container path} of a service (bind mounts, which start with . or /, left out)."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        if not source.startswith((".", "/", "$")):
            mounts[source] = target
    return mounts


def test_compose_runs_the_whole_stack_each_service_with_a_healthcheck(services):
    assert set(services) == STACK
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1, name
        assert service.get("restart") == "unless-stopped", name


def test_compose_images_are_pinned(services):
    for name, service in services.items():
        image = default_value(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {service['image']} is not pinned"
    for name, image in PINNED_IMAGES.items():
        assert services[name]["image"] == image


def test_compose_web_worker_and_mlflow_run_the_one_app_image(services):
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    assert all(services[name]["build"] == "." for name in APP_SERVICES)
    assert all("build" not in services[name] for name in STACK - APP_SERVICES)


def test_compose_worker_is_the_celery_worker_on_the_web_settings_and_storage(services):
    web, worker = services["web"], services["worker"]
    assert worker["command"][:4] == WORKER_COMMAND
    assert worker["environment"]["JOB_BACKEND"] == web["environment"]["JOB_BACKEND"] == "celery"
    assert worker["environment"]["WORKER_METRICS_PORT"] == "9101"
    shared = ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DATA_DIR", "INSTANCE_DIR",
              "MLFLOW_TRACKING_URI")
    for name in shared:
        assert worker["environment"][name] == web["environment"][name], name
    # Data files: the same named volume at the same path.
    assert named_volume_mounts(worker) == named_volume_mounts(web)
    assert named_volume_mounts(web)["instance"] == web["environment"]["INSTANCE_DIR"]
    assert web["environment"]["DATA_DIR"].startswith(web["environment"]["INSTANCE_DIR"] + "/")
    # The worker starts once web has migrated the database (web's healthcheck passes).
    assert worker["depends_on"]["web"]["condition"] == "service_healthy"
    assert "RUN_MIGRATIONS" not in worker["environment"]


def test_compose_worker_runs_with_the_options_of_make_worker(services):
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nworker:"):]
    recipe = recipe[:recipe.index("\n\n")].replace("\\\n", " ")
    command = services["worker"]["command"]
    for flag in ("--prefetch-multiplier", "-O", "--hostname", "--without-gossip"):
        if f" {flag}" in recipe:
            assert any(arg == flag or arg.startswith(flag + "=") for arg in command), flag

def test_compose_app_settings_point_at_the_stack_services(services):
    env = services["web"]["environment"]
    database = urlsplit(default_value(env["DATABASE_URL"]))
    assert database.scheme == "postgresql" and database.hostname == "postgres"
    assert database.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]
    assert database.username == services["postgres"]["environment"]["POSTGRES_USER"]
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    for name in ("CELERY_BROKER_URL", "RATELIMIT_STORAGE_URI"):
        url = urlsplit(env[name])
        assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379), name
    tracking = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert (tracking.scheme, tracking.hostname) == ("http", "mlflow")
    assert str(tracking.port) == option(services["mlflow"]["command"], "--port")
    for dependency in ("postgres", "redis", "mlflow"):
        assert services["web"]["depends_on"][dependency]["condition"] == "service_healthy"


def test_compose_mlflow_is_a_tracking_server_on_postgres_with_an_artifact_volume(services):
    mlflow = services["mlflow"]
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    assert "--serve-artifacts" in command
    assert option(command, "--host") == "0.0.0.0"
    assert mlflow["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    backend = urlsplit(default_value(mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"]))
    assert backend.scheme.startswith("postgresql") and backend.hostname == "postgres"
    assert backend.path == "/mlflow"
    # The `mlflow` database is created by the postgres image's init script.
    init_sql = "\n".join(p.read_text() for p in sorted(POSTGRES_INITDB.glob("*.sql")))
    assert re.search(r"CREATE DATABASE mlflow\b", init_sql)
    assert "./ops/postgres/initdb:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    # Artifacts: the server's own named volume; web and worker reach them through the
    # server (mlflow-artifacts:/ with --serve-artifacts), not through a mount.
    destination = option(command, "--artifacts-destination")
    volume = {path: name for name, path in named_volume_mounts(mlflow).items()}[destination]
    for name in ("web", "worker"):
        assert volume not in named_volume_mounts(services[name]), name
    # Prometheus metrics: the multiprocess directory is writable (a tmpfs) for the app user.
    assert option(command, "--expose-prometheus") == "/prometheus"
    assert "/prometheus" in mlflow["tmpfs"]


def is_allowed_host_header(allowed_hosts: list[str], host: str) -> bool:
    """MLflow's Host check (mlflow.server.security_utils.is_allowed_host_header, 3.x), copied:
    importing mlflow.server takes seconds."""
    return "*" in allowed_hosts or any(
        fnmatch.fnmatch(host, allowed) if "*" in allowed else host == allowed for allowed in allowed_hosts)


def test_compose_mlflow_allows_the_hosts_that_call_it(services):
    allowed = option(services["mlflow"]["command"], "--allowed-hosts").split(",")
    callers = {urlsplit(services["web"]["environment"]["MLFLOW_TRACKING_URI"]).netloc,
               *scrape_targets()["mlflow"], "localhost:5000", "127.0.0.1:5000"}
    for host in callers:
        assert is_allowed_host_header(allowed, host), host
    assert not is_allowed_host_header(allowed, "attacker.example.com")


def scrape_targets() -> dict[str, list[str]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
            for job in config["scrape_configs"]}


def listening_port(name: str, service: dict) -> str:
    """The port a compose service serves on, from its own settings."""
    command = service.get("command") or []
    if name == "web":
        return service["environment"]["PORT"]
    if name == "worker":
        return service["environment"]["WORKER_METRICS_PORT"]
    if name in {"mlflow", "prometheus"}:
        return (option(command, "--port") or option(command, "--web.listen-address")).lstrip(":")
    # Images that keep their default port: the one their healthcheck probes.
    probe = next(arg for arg in service["healthcheck"]["test"] if arg.startswith("http"))
    return str(urlsplit(probe).port)


def test_prometheus_scrapes_web_worker_node_exporter_and_mlflow_at_their_compose_ports(services):
    targets = scrape_targets()
    expected = {"web": "web", "worker": "worker", "node": "node-exporter", "mlflow": "mlflow",
                "alertmanager": "alertmanager"}
    for job, service in expected.items():
        assert targets[job] == [f"{service}:{listening_port(service, services[service])}"], job
    assert targets["prometheus"] == [f"localhost:{listening_port('prometheus', services['prometheus'])}"]


def test_compose_monitoring_services_use_the_ops_files_and_entrypoints(services):
    prometheus, alertmanager, grafana = (services[n] for n in ("prometheus", "alertmanager", "grafana"))
    # Bind mounts name files of the repository.
    for name, service in services.items():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    # Prometheus: the entrypoint writes the bearer-token file into secrets/ (a tmpfs)
    # beside the mounted config, then execs Prometheus with the command.
    assert prometheus["entrypoint"] == ["/bin/sh", "/usr/local/bin/prometheus-entrypoint.sh"]
    assert "./ops/prometheus/entrypoint.sh:/usr/local/bin/prometheus-entrypoint.sh:ro" in prometheus["volumes"]
    config = option(prometheus["command"], "--config.file")
    assert f"./ops/prometheus/prometheus.yml:{config}:ro" in prometheus["volumes"]
    assert f"{Path(config).parent}/secrets" in prometheus["tmpfs"]
    assert f"./ops/prometheus/rules:{Path(config).parent}/rules:ro" in prometheus["volumes"]
    assert prometheus["environment"]["METRICS_TOKEN"] == services["web"]["environment"]["METRICS_TOKEN"]
    # Alertmanager: the template is rendered from the environment into a tmpfs.
    assert alertmanager["entrypoint"] == ["/bin/sh", "/usr/local/bin/alertmanager-entrypoint.sh"]
    env = alertmanager["environment"]
    assert f"./ops/alertmanager/alertmanager.yml.tmpl:{env['ALERTMANAGER_TEMPLATE']}:ro" in alertmanager["volumes"]
    assert str(Path(env["ALERTMANAGER_CONFIG"]).parent) in alertmanager["tmpfs"]
    template = (ROOT / "ops" / "alertmanager" / "alertmanager.yml.tmpl").read_text()
    for placeholder in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", template)):
        assert placeholder in env, f"the template uses ${{{placeholder}}}, which compose does not set"
    assert not any(arg.startswith("--config.file") for arg in alertmanager["command"])
    # Grafana: provisioning and the dashboards where the file provider looks.
    provider = yaml.safe_load(
        (ROOT / "ops/grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"][0]
    assert "./ops/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert f"./ops/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    datasource = yaml.safe_load(
        (ROOT / "ops/grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert urlsplit(datasource["url"]).hostname == "prometheus"
    assert "${GRAFANA_ADMIN_PASSWORD:?" in grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]


def test_compose_state_lives_in_declared_named_volumes(compose, services):
    used = {volume for service in services.values() for volume in named_volume_mounts(service)}
    assert used == set(compose["volumes"])
    for name, path in [("postgres", "/var/lib/postgresql/data"), ("redis", "/data"),
                       ("prometheus", "/prometheus"), ("alertmanager", "/alertmanager"),
                       ("grafana", "/var/lib/grafana")]:
        assert path in named_volume_mounts(services[name]).values(), name


def published_ports(service: dict) -> list[tuple[str, str]]:
    """(host address, container port) of each published port; address '' means every interface."""
    out = []
    for entry in service.get("ports", []):
        parts = default_value(str(entry)).split(":")
        address = parts[0] if len(parts) == 3 else ""
        out.append((address, parts[-1]))
    return out


def readme_stack_section() -> str:
    text = README.read_text()
    start = text.index("## Scale-out and monitoring stack")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_compose_publishes_the_readme_ports_and_keeps_unauthenticated_ones_on_loopback(services):
    section = readme_stack_section()
    assert published_ports(services["web"]) == [("", "8000")]
    assert "http://localhost:8000" in section
    for name in ("mlflow", "prometheus", "alertmanager", "grafana"):
        [(address, port)] = published_ports(services[name])
        assert address == "127.0.0.1", f"{name} is published beyond loopback by default"
        assert f"http://127.0.0.1:{port}" in section, f"README does not give {name}'s address"
        assert f"| `{name}` |" in section
    for name in ("worker", "postgres", "redis", "node-exporter"):
        assert not published_ports(services[name]), f"{name} must stay inside the stack"
        assert f"| `{name}` |" in section


def test_env_example_names_every_variable_compose_requires():
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required == set(REQUIRED_ENV)
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines()
               if line and not line.startswith("#")}
    assert required <= example
    optional = set(re.findall(r"\$\{(\w+):-", COMPOSE.read_text()))
    assert optional <= {re.sub(r"^#\s*", "", line).split("=", 1)[0]
                        for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line}


@pytest.mark.parametrize(("name", "variable"),
                         [("web", "PROMETHEUS_MULTIPROC_DIR"), ("worker", "WORKER_METRICS_DIR")])
def test_compose_app_containers_keep_metric_files_per_container(services, name, variable):
    env = services[name]["environment"]
    assert env[variable] in services[name]["tmpfs"]
    assert not env[variable].startswith(env["INSTANCE_DIR"]), "metric files on the shared volume"


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


def test_dockerfile_creates_the_mount_points_of_the_app_volumes_for_the_app_user():
    """A named volume starts with the owner of its mount point in the image."""
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    runs = " && ".join(args for k, args in final if k == "RUN")
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in APP_SERVICES:
        for path in named_volume_mounts(services[name]).values():
            assert re.search(rf"mkdir -p [^&]*{re.escape(path)}(\s|$)", runs), path
            assert re.search(rf"chown app:app [^&]*{re.escape(path)}(\s|$)", runs), path


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


# --- ops/k8s --------------------------------------------------------------------------

# Kubernetes versions whose schemas kubernetes-validate ships: the oldest we support
# and a recent one.
K8S_VERSIONS = ("1.30", "1.34")
K8S_NAMESPACE = "csv-analyzer"
CLUSTER_SCOPED = {"Namespace"}


def k8s_documents() -> list[tuple[str, dict]]:
    """(file name, document) of every manifest but kustomization.yaml."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def k8s_id(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    """Every manifest by Kind/name."""
    docs = {}
    for _, doc in k8s_documents():
        assert k8s_id(doc) not in docs, f"{k8s_id(doc)} is defined twice"
        docs[k8s_id(doc)] = doc
    return docs


def of_kind(manifests: dict, *kinds: str) -> list[dict]:
    return [doc for doc in manifests.values() if doc["kind"] in kinds]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def all_containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return spec.get("initContainers", []) + spec["containers"]


def container(doc: dict, name: str) -> dict:
    return next(c for c in all_containers(doc) if c["name"] == name)


def env_value(manifests: dict, doc: dict, item: dict, name: str) -> str:
    """The value of `name` in a container: its env, else a ConfigMap it reads with envFrom."""
    for entry in item.get("env", []):
        if entry["name"] == name:
            return entry["value"]
    for source in item.get("envFrom", []):
        data = manifests[f"ConfigMap/{source['configMapRef']['name']}"]["data"]
        if name in data:
            return data[name]
    raise KeyError(f"{k8s_id(doc)} {item['name']}: {name} is not set")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("filename", "doc"), k8s_documents(), ids=lambda v: v if isinstance(v, str) else k8s_id(v))
def test_k8s_manifest_is_valid_against_the_kubernetes_schema(filename, doc, version):
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{filename} {k8s_id(doc)} (Kubernetes {version}): {path}: {exc.message}")


@pytest.mark.parametrize("corruption", ["unknown field", "wrong type"])
def test_k8s_schema_check_rejects_a_corrupted_manifest(manifests, corruption):
    import kubernetes_validate

    doc = copy.deepcopy(manifests["Deployment/web"])
    web = container(doc, "web")
    if corruption == "unknown field":
        web["livenessProbe"]["httpGett"] = web["livenessProbe"].pop("httpGet")
    else:
        web["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_k8s_kustomization_lists_every_manifest_in_one_namespace(manifests):
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    assert kustomization["namespace"] == K8S_NAMESPACE
    assert manifests[f"Namespace/{K8S_NAMESPACE}"]
    for key, doc in manifests.items():
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == K8S_NAMESPACE, key
    # Every image the manifests use is the app image (renamed by kustomize) or pinned.
    app_images = {image["name"] for image in kustomization["images"]}
    for doc in of_kind(manifests, "Deployment", "StatefulSet"):
        for item in all_containers(doc):
            name, _, tag = item["image"].rpartition(":")
            assert tag and tag != "latest", f"{k8s_id(doc)}: {item['image']} is not pinned"
            if name in app_images:
                assert tag == next(i["newTag"] for i in kustomization["images"] if i["name"] == name)


def test_k8s_uses_the_images_and_worker_command_of_compose(manifests, services):
    compose_app_image = default_value(services["web"]["image"])
    for key in ("Deployment/web", "Deployment/worker", "Deployment/mlflow"):
        assert {c["image"] for c in all_containers(manifests[key])} == {compose_app_image}, key
    assert container(manifests["StatefulSet/postgres"], "postgres")["image"] == services["postgres"]["image"]
    assert container(manifests["StatefulSet/redis"], "redis")["image"] == services["redis"]["image"]
    assert container(manifests["Deployment/worker"], "worker")["command"] == services["worker"]["command"]
    mlflow_command = container(manifests["Deployment/mlflow"], "mlflow")["command"]
    for flag in ("--serve-artifacts", "--expose-prometheus=/prometheus",
                 "--artifacts-destination=/data/mlflow-artifacts"):
        assert flag in mlflow_command


def test_k8s_web_probes_resources_and_single_threaded_math(manifests):
    web = manifests["Deployment/web"]
    item = container(web, "web")
    port_names = {p["name"]: p["containerPort"] for p in item["ports"]}
    assert item["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert item["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        port = item[probe]["httpGet"]["port"]
        assert port in port_names or port in port_names.values(), probe
    assert str(port_names["http"]) == env_value(manifests, web, item, "PORT")
    assert env_value(manifests, web, item, "OMP_NUM_THREADS") == "1"
    assert env_value(manifests, web, item, "APP_ENV") == "production"
    assert "gunicorn" not in (item.get("command") or [])  # the image's default command serves
    assert env_value(manifests, web, item, "RUN_MIGRATIONS") == "0"
    strategy = web["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_k8s_web_migrates_in_an_init_container_and_workers_wait_for_it(manifests):
    [migrate] = pod_spec(manifests["Deployment/web"])["initContainers"]
    script = " ".join(migrate["command"])
    assert "flask --app wsgi db upgrade" in script and "flask --app wsgi init-tracking" in script
    assert script.index("db upgrade") < script.index("init-tracking")
    [wait] = pod_spec(manifests["Deployment/worker"])["initContainers"]
    assert "db current" in " ".join(wait["command"]) and "upgrade" not in " ".join(wait["command"])


def test_k8s_every_container_has_resources_and_runs_unprivileged(manifests):
    for doc in of_kind(manifests, "Deployment", "StatefulSet"):
        pod = pod_spec(doc)["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, k8s_id(doc)
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", k8s_id(doc)
        for item in all_containers(doc):
            where = f"{k8s_id(doc)} {item['name']}"
            assert {"cpu", "memory"} <= set(item["resources"]["requests"]), where
            assert "memory" in item["resources"]["limits"], where
            assert item["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert item["securityContext"]["capabilities"]["drop"] == ["ALL"], where
    # The app image's user (Dockerfile USER 10001:10001).
    final = dockerfile_stages(DOCKERFILE.read_text())[-1]
    uid = [args for k, args in final if k == "USER"][-1].split(":")[0]
    for key in ("Deployment/web", "Deployment/worker", "Deployment/mlflow"):
        assert str(pod_spec(manifests[key])["securityContext"]["runAsUser"]) == uid


def test_k8s_worker_is_the_celery_worker_sized_to_its_cpu_limit(manifests):
    worker = manifests["Deployment/worker"]
    item = container(worker, "worker")
    assert item["command"][:4] == WORKER_COMMAND
    assert env_value(manifests, worker, item, "JOB_BACKEND") == "celery"
    metrics_port = env_value(manifests, worker, item, "WORKER_METRICS_PORT")
    assert {p["containerPort"] for p in item["ports"]} == {int(metrics_port)}
    assert item["livenessProbe"]["httpGet"]["port"] in {"metrics", int(metrics_port)}
    # A job's threads match the CPU it may use, not the node's cores.
    assert env_value(manifests, worker, item, "JOB_THREADS") == str(item["resources"]["limits"]["cpu"])
    metrics_dir = env_value(manifests, worker, item, "WORKER_METRICS_DIR")
    assert metrics_dir in {m["mountPath"] for m in item["volumeMounts"]}


def test_k8s_hpas_scale_existing_deployments_on_cpu(manifests):
    targets = set()
    for hpa in of_kind(manifests, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        target = manifests[f"{ref['kind']}/{ref['name']}"]
        assert target["apiVersion"] == ref["apiVersion"]
        resources = [m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
        assert "cpu" in resources, k8s_id(hpa)
        # Utilization is relative to the request: every container must request CPU.
        assert all("cpu" in c["resources"]["requests"] for c in pod_spec(target)["containers"])
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        targets.add(ref["name"])
    assert {"web", "worker"} <= targets


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_k8s_services_select_pods_and_name_their_ports(manifests):
    workloads = of_kind(manifests, "Deployment", "StatefulSet")
    for service in of_kind(manifests, "Service"):
        selector = service["spec"]["selector"]
        [workload] = [w for w in workloads if labels_match(selector, w["spec"]["template"]["metadata"]["labels"])]
        ports = {p["name"] for c in pod_spec(workload)["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{k8s_id(service)} targets no container port"
    for workload in workloads:
        assert labels_match(workload["spec"]["selector"]["matchLabels"],
                            workload["spec"]["template"]["metadata"]["labels"]), k8s_id(workload)
        if workload["kind"] == "StatefulSet":
            assert f"Service/{workload['spec']['serviceName']}" in manifests
    for budget in of_kind(manifests, "PodDisruptionBudget"):
        assert any(labels_match(budget["spec"]["selector"]["matchLabels"],
                                w["spec"]["template"]["metadata"]["labels"]) for w in workloads)


def test_k8s_ingress_serves_the_web_service_over_tls(manifests):
    [ingress] = of_kind(manifests, "Ingress")
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    assert all(entry["secretName"] for entry in ingress["spec"]["tls"])
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = manifests[f"Service/{backend['name']}"]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
            assert labels_match(service["spec"]["selector"],
                                manifests["Deployment/web"]["spec"]["template"]["metadata"]["labels"])
    # Uploads up to MAX_UPLOAD_MB pass the proxy.
    body = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    max_upload = manifests["ConfigMap/csv-analyzer-config"]["data"]["MAX_UPLOAD_MB"]
    assert int(body.rstrip("m")) >= int(max_upload)


def test_k8s_references_to_secrets_configmaps_claims_and_variables_resolve(manifests):
    claims = {doc["metadata"]["name"] for doc in of_kind(manifests, "PersistentVolumeClaim")}
    for doc in of_kind(manifests, "Deployment", "StatefulSet"):
        spec = pod_spec(doc)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        volumes.update({t["metadata"]["name"]: {} for t in doc["spec"].get("volumeClaimTemplates", [])})
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
            if "configMap" in volume:
                assert f"ConfigMap/{volume['configMap']['name']}" in manifests
        for item in all_containers(doc):
            where = f"{k8s_id(doc)} {item['name']}"
            for source in item.get("envFrom", []):
                assert f"ConfigMap/{source['configMapRef']['name']}" in manifests, where
            defined: set[str] = set()
            for entry in item.get("env", []):
                ref = entry.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    secret = manifests[f"Secret/{ref['secretKeyRef']['name']}"]
                    assert ref["secretKeyRef"]["key"] in secret["stringData"], where
                if "configMapKeyRef" in ref:
                    config = manifests[f"ConfigMap/{ref['configMapKeyRef']['name']}"]
                    assert ref["configMapKeyRef"]["key"] in config["data"], where
                # $(NAME) expands only variables defined earlier in the list.
                for name in re.findall(r"\$\((\w+)\)", entry.get("value", "")):
                    assert name in defined, f"{where}: {entry['name']} uses $({name}) before it is set"
                defined.add(entry["name"])
            for mount in item.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{where}: no volume {mount['name']}"


def test_k8s_data_files_and_mlflow_artifacts_are_on_the_read_write_many_volume(manifests):
    [claim] = of_kind(manifests, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]

    def shared_mount(name: str) -> str:
        doc = manifests[f"Deployment/{name}"]
        [data] = [v["name"] for v in pod_spec(doc)["volumes"]
                  if v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]]
        [mount] = [m["mountPath"] for m in container(doc, name)["volumeMounts"] if m["name"] == data]
        return mount

    config = manifests["ConfigMap/csv-analyzer-config"]["data"]
    for name in ("web", "worker"):
        for setting in ("DATA_DIR", "INSTANCE_DIR"):
            assert config[setting].startswith(shared_mount(name) + "/"), f"{name}: {setting} is not shared"
    destination = option(container(manifests["Deployment/mlflow"], "mlflow")["command"], "--artifacts-destination")
    assert destination.startswith(shared_mount("mlflow") + "/")


def test_k8s_app_settings_point_at_in_cluster_services(manifests):
    config = manifests["ConfigMap/csv-analyzer-config"]["data"]
    assert config["JOB_BACKEND"] == "celery" and config["APP_ENV"] == "production"
    web = manifests["Deployment/web"]
    database = urlsplit(env_value(manifests, web, container(web, "web"), "DATABASE_URL"))
    hosts = {
        "DATABASE_URL": (database.hostname, database.port),
        **{name: (urlsplit(config[name]).hostname, urlsplit(config[name]).port)
           for name in ("CELERY_BROKER_URL", "RATELIMIT_STORAGE_URI", "MLFLOW_TRACKING_URI")},
    }
    for setting, (host, port) in hosts.items():
        service = manifests[f"Service/{host}"]
        assert port in {p["port"] for p in service["spec"]["ports"]}, setting
    assert database.path == "/" + config["POSTGRES_DB"] and database.username == config["POSTGRES_USER"]
    allowed = option(container(manifests["Deployment/mlflow"], "mlflow")["command"], "--allowed-hosts")
    assert is_allowed_host_header(allowed.split(","), urlsplit(config["MLFLOW_TRACKING_URI"]).netloc)
    # The postgres init script is the one compose mounts.
    [(name, sql)] = manifests["ConfigMap/postgres-initdb"]["data"].items()
    assert sql == (POSTGRES_INITDB / name).read_text()


def test_k8s_secret_placeholders_are_refused_by_the_app_in_production(manifests):
    from config import UNSAFE_SECRET_KEYS

    secret = manifests["Secret/csv-analyzer-secrets"]["stringData"]
    assert secret["SECRET_KEY"] in UNSAFE_SECRET_KEYS


# --- docs/deploy.md -------------------------------------------------------------------

DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def test_deploy_guide_covers_every_shape_and_quotes_only_measured_figures():
    text = DEPLOY_DOC.read_text()
    for heading in ("## One machine: docker compose", "## Several machines", "### Object storage",
                    "## Kubernetes", "## Migrations during rolling updates (expand / contract)",
                    "## Sizing", "### Load test"):
        assert heading in text, heading
    for name in sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"):
        assert f"`{name}`" in text, f"docs/deploy.md does not describe ops/k8s/{name}"
    # The sizing table's figures are the benchmark's, as bench/README.md states them now.
    sizing = text[text.index("## Sizing"):text.index("### Load test")]
    bench = (ROOT / "bench" / "README.md").read_text()
    quoted = [row.split("|")[1] for row in sizing.splitlines() if row.startswith("| ")][1:]
    assert quoted
    for cell in quoted:
        for figure in re.findall(r"\d[\d,.]*(?: s| ms|x)", cell):
            assert figure in bench, f"docs/deploy.md quotes {figure!r}, which bench/README.md does not have"


def test_ci_checks_the_compose_file_with_every_required_variable():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["docker"]["steps"]
    [step] = [s for s in steps if "compose" in s.get("run", "") and "config" in s.get("run", "")]
    given = set(step.get("env", {}))
    if "--env-file docs/env.example" in step["run"]:
        given |= {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines()
                  if line and not line.startswith("#")}
    assert set(REQUIRED_ENV) <= given


def test_k8s_network_policies_let_exactly_the_clients_reach_postgres_and_redis(manifests):
    workloads = of_kind(manifests, "Deployment", "StatefulSet")

    def pod_labels(name: str) -> dict:
        return next(w for w in workloads if w["metadata"]["name"] == name)["spec"]["template"]["metadata"]["labels"]

    clients = {"postgres": {"web", "worker", "mlflow"}, "redis": {"web", "worker"}}
    policies = of_kind(manifests, "NetworkPolicy")
    for server, expected in clients.items():
        [policy] = [p for p in policies if labels_match(p["spec"]["podSelector"]["matchLabels"], pod_labels(server))]
        selectors = [peer["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"]
                     for peer in rule["from"]]
        allowed = {w["metadata"]["name"] for w in workloads
                   if any(labels_match(s, w["spec"]["template"]["metadata"]["labels"]) for s in selectors)}
        assert allowed == expected, server
        service_ports = {p["port"] for p in manifests[f"Service/{server}"]["spec"]["ports"]}
        assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} == service_ports


def test_env_example_secret_key_is_one_the_app_refuses():
    from config import UNSAFE_SECRET_KEYS

    values = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values["SECRET_KEY"] in UNSAFE_SECRET_KEYS
