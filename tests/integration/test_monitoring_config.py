"""The monitoring configuration in ops/ is checked by the real tools: promtool, amtool,
Prometheus, Alertmanager and node-exporter (Debian packages; .ci/run installs them).

Every dashboard query and every rule expression is run by a Prometheus on loopback that
scrapes a real node-exporter, and every metric name they use must be one the app defines
(app.telemetry and prometheus-flask-exporter), one node-exporter serves, `up`, or a
recording rule's.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from monitoring_queries import (
    CONTRACT_METRIC_NAMES,
    app_metric_names,
    dashboard_exprs,
    iter_panels,
    load_dashboards,
    monitoring_exprs,
    promql_metric_names,
    refused_queries,
    rule_groups,
    substitute_grafana_variables,
    unknown_metric_names,
    used_metric_names,
)
from prometheus_helpers import (
    ALERTMANAGER_DIR,
    ALERTMANAGER_EXAMPLE_ENV,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    PromQLError,
    free_port,
    http_get,
    prometheus_config_dir,
    render_alertmanager,
    require_tool,
    run_tool,
    serve_wsgi,
    start_node_exporter,
    start_prometheus,
)

REQUIRED_ALERTS = {
    "HighErrorRate": "critical",
    "HighLatencyP95": "warning",
    "HighCPUUsage": None,
    "HighMemoryUsage": None,
    "TargetDown": None,
    "TrainingJobsFailing": None,
    "ModelDrift": None,
}
DATASOURCE_UID = "prometheus"


def alerts() -> list[dict]:
    return [rule for rules in rule_groups().values() for rule in rules if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rules in rule_groups().values() for rule in rules if "record" in rule}


# --- Prometheus configuration ----------------------------------------------------------------


def test_promtool_accepts_the_config_and_its_rule_files(tmp_path):
    config = prometheus_config_dir(tmp_path / "etc")
    result = run_tool("promtool", "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in rule_groups():
        assert f"rules/{name}" in result.stdout, "rule_files must include every rules/*.yml"


def test_config_scrapes_the_app_workers_host_and_mlflow_and_alerts_to_alertmanager():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"web", "worker", "node", "mlflow"} <= set(jobs)
    web = jobs["web"]
    assert web.get("metrics_path", "/metrics") == "/metrics"
    assert web["authorization"] == {"type": "Bearer", "credentials_file": "secrets/metrics_token"}
    assert web["static_configs"][0]["targets"] == ["web:8000"]
    assert jobs["node"]["static_configs"][0]["targets"] == ["node-exporter:9100"]
    assert jobs["mlflow"]["static_configs"][0]["targets"] == ["mlflow:5000"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]


def test_prometheus_entrypoint_writes_the_token_privately_then_execs_prometheus(tmp_path):
    stub = tmp_path / "prometheus-stub"
    log = tmp_path / "calls"
    stub.write_text(f'#!/bin/sh\necho "$$ $*" > "{log}"\n')
    stub.chmod(0o755)
    env = {
        **os.environ,
        "PROMETHEUS_CONFIG_DIR": str(tmp_path / "etc"),
        "PROMETHEUS_BIN": str(stub),
        "METRICS_TOKEN": "s3cret token",
    }
    proc = subprocess.Popen([str(PROMETHEUS_DIR / "entrypoint.sh"), "--config.file=x"], env=env)
    assert proc.wait(timeout=30) == 0
    token = tmp_path / "etc" / "secrets" / "metrics_token"
    assert token.read_text() == "s3cret token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    pid, args = log.read_text().split(" ", 1)
    assert int(pid) == proc.pid, "Prometheus must replace the shell (exec) to get docker's signals"
    assert args.strip() == "--config.file=x"

    env.pop("METRICS_TOKEN")
    subprocess.run([str(PROMETHEUS_DIR / "entrypoint.sh"), "render"], env=env, check=True, timeout=30)
    assert token.read_text() == "", "no token: an empty file, and the open /metrics ignores the header"


# --- Rules and their unit tests --------------------------------------------------------------


def test_promtool_accepts_the_rules():
    files = sorted(str(p) for p in (PROMETHEUS_DIR / "rules").glob("*.yml"))
    result = run_tool("promtool", "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_required_alerts_exist_with_severity_and_annotations():
    by_name = {rule["alert"]: rule for rule in alerts()}
    assert set(REQUIRED_ALERTS) <= set(by_name)
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        assert rule.get("for"), f"{name} should hold for a while before firing"
        expected = REQUIRED_ALERTS.get(name)
        assert expected in (None, rule["labels"]["severity"]), name


def test_promtool_unit_tests_pass():
    tests = sorted(p.name for p in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    result = run_tool("promtool", "test", "rules", *tests, cwd=PROMETHEUS_DIR / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    firing, quiet = set(), set()
    for path in (PROMETHEUS_DIR / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names <= firing, f"no firing case for {names - firing}"
    assert names <= quiet, f"no quiet case for {names - quiet}"


@pytest.mark.parametrize(
    ("old", "new", "tests"),
    [
        ("ratio_rate5m > 0.05", "ratio_rate5m > 0.5", "http_alerts_test.yml"),
        ("psi:max > 0.2", "psi:max > 0.1", "model_alerts_test.yml"),
    ],
    ids=["threshold-raised", "threshold-lowered"],
)
def test_unit_tests_fail_when_a_threshold_changes(tmp_path, old, new, tests):
    shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    alerts_file = tmp_path / "prometheus" / "rules" / "alerts.yml"
    text = alerts_file.read_text()
    assert old in text
    alerts_file.write_text(text.replace(old, new))
    result = run_tool("promtool", "test", "rules", tests, cwd=tmp_path / "prometheus" / "tests")
    assert result.returncode != 0


# --- Alertmanager ----------------------------------------------------------------------------


def amtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("amtool", "check-config", str(path))


def test_rendered_example_passes_amtool():
    result = amtool_check(ALERTMANAGER_DIR / "alertmanager.example.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout


def test_example_is_the_template_rendered_with_the_example_environment(tmp_path):
    config = tmp_path / "alertmanager.yml"
    result = render_alertmanager(config, ALERTMANAGER_EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    assert config.read_text() == (ALERTMANAGER_DIR / "alertmanager.example.yml").read_text(), (
        "re-render ops/alertmanager/alertmanager.example.yml (see ops/README.md)"
    )


def busybox_shell(tmp_path: Path) -> list[str]:
    """busybox sh with only busybox applets on PATH, as in the official alertmanager image."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox not installed")
    bin_dir = tmp_path / "busybox-bin"
    bin_dir.mkdir()
    for applet in ("sh", "sed", "grep", "mkdir", "mv", "dirname"):
        (bin_dir / applet).symlink_to(busybox)
    return ["env", f"PATH={bin_dir}", str(bin_dir / "sh")]


@pytest.mark.parametrize("shell", ["sh", "busybox"])
def test_fresh_render_passes_amtool_and_keeps_awkward_values_intact(tmp_path, shell):
    password = "it's a |p&ss\\word/with \"quotes\" and ${HOME}"
    webhook = "https://hooks.example.com/services/T0/B0?a=1&b=two|three"
    env = {
        "ALERT_EMAIL_TO": "team+alerts@example.org",
        "ALERT_WEBHOOK_URL": webhook,
        "SMTP_SMARTHOST": "mail.example.org:465",
        "SMTP_AUTH_PASSWORD": password,
        "SMTP_REQUIRE_TLS": "false",
    }
    config = tmp_path / "out" / "alertmanager.yml"
    result = render_alertmanager(config, env, shell=busybox_shell(tmp_path) if shell == "busybox" else None)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600, "the config holds the SMTP password"
    check = amtool_check(config)
    assert check.returncode == 0, check.stdout + check.stderr
    doc = yaml.safe_load(config.read_text())
    assert doc["global"]["smtp_auth_password"] == password
    assert doc["global"]["smtp_from"] == "alertmanager@localhost"
    assert doc["global"]["smtp_require_tls"] is False
    assert {r["name"]: r for r in doc["receivers"]}["webhook"]["webhook_configs"][0]["url"] == webhook


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ALERT_WEBHOOK_URL": None}, "ALERT_WEBHOOK_URL"),
        ({"ALERT_EMAIL_TO": ""}, "ALERT_EMAIL_TO"),
        ({"SMTP_AUTH_PASSWORD": "two\nlines"}, "single line"),
        ({"SMTP_REQUIRE_TLS": "yes"}, "SMTP_REQUIRE_TLS"),
    ],
    ids=["missing", "empty", "multiline", "not-boolean"],
)
def test_render_refuses_incomplete_or_unsafe_settings(tmp_path, change, message):
    env = {**ALERTMANAGER_EXAMPLE_ENV, **change}
    env = {k: v for k, v in env.items() if v is not None}
    config = tmp_path / "alertmanager.yml"
    result = render_alertmanager(config, env)
    assert result.returncode == 64
    assert message in result.stderr
    assert not config.exists()


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=HighErrorRate"], "email-and-webhook"),
        (["severity=warning", "alertname=ModelDrift"], "email-and-webhook"),
        (["severity=info", "alertname=Note"], "webhook"),
    ],
)
def test_alerts_are_routed_by_severity(labels, receiver):
    result = run_tool(
        "amtool", "config", "routes", "test",
        f"--config.file={ALERTMANAGER_DIR / 'alertmanager.example.yml'}", *labels,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def post_json(url: str, payload) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # loopback only
        return response.status


def test_entrypoint_starts_alertmanager_on_the_rendered_config_and_it_routes_by_severity(tmp_path):
    """Environment -> entrypoint render -> exec the real Alertmanager -> alerts reach their receivers."""
    port = free_port()
    env = {
        **os.environ,
        **ALERTMANAGER_EXAMPLE_ENV,
        "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/alerts",  # nothing listens: fails locally
        "SMTP_SMARTHOST": f"127.0.0.1:{free_port()}",
        "ALERTMANAGER_BIN": require_tool("alertmanager"),
        "ALERTMANAGER_TEMPLATE": str(ALERTMANAGER_DIR / "alertmanager.yml.tmpl"),
        "ALERTMANAGER_CONFIG": str(tmp_path / "alertmanager.yml"),
    }
    args = [
        "--cluster.listen-address=",  # no gossip port: stay on loopback
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.path={tmp_path / 'data'}",
    ]
    log_path = tmp_path / "alertmanager.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["sh", str(ALERTMANAGER_DIR / "entrypoint.sh"), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if http_get(base + "/-/ready", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        status = json.loads(http_get(base + "/api/v2/status")[1])
        assert "receiver: email-and-webhook" in status["config"]["original"]
        alerts = [
            {"labels": {"alertname": "HighErrorRate", "severity": "critical", "job": "web"}},
            {"labels": {"alertname": "Note", "severity": "info", "job": "web"}},
        ]
        assert post_json(base + "/api/v2/alerts", alerts) == 200
        received = json.loads(http_get(base + "/api/v2/alerts")[1])
        receivers = {a["labels"]["alertname"]: [r["name"] for r in a["receivers"]] for a in received}
        assert receivers == {"HighErrorRate": ["email-and-webhook"], "Note": ["webhook"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- Grafana ---------------------------------------------------------------------------------


def test_grafana_datasource_is_the_compose_prometheus_with_a_fixed_uid():
    doc = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert doc["apiVersion"] == 1
    [source] = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == DATASOURCE_UID
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True


def test_grafana_dashboard_provider_reads_the_mounted_folder():
    doc = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    assert doc["apiVersion"] == 1
    [provider] = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboards_are_well_formed_grafana_json():
    dashboards = load_dashboards()
    assert len(dashboards) >= 3
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, dashboard in dashboards.items():
        assert 36 <= dashboard["schemaVersion"] <= 41, name
        assert dashboard["title"] and dashboard["uid"] and len(dashboard["uid"]) <= 40, name
        ids = [panel["id"] for panel in iter_panels(dashboard["panels"])]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        for panel in iter_panels(dashboard["panels"]):
            where = f"{name}: {panel.get('title')}"
            pos = panel["gridPos"]
            assert {"h", "w", "x", "y"} <= set(pos), where
            assert pos["w"] >= 1 and pos["x"] + pos["w"] <= 24, where
            if panel["type"] == "row":
                continue
            assert panel["type"] in {"timeseries", "stat", "table", "bargauge", "gauge", "heatmap"}, where
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, where
            assert panel["targets"], where
            refs = [t["refId"] for t in panel["targets"]]
            assert len(set(refs)) == len(refs), where
            for target in panel["targets"]:
                assert target["expr"].strip(), where
                assert target["datasource"]["uid"] == DATASOURCE_UID, where
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] == DATASOURCE_UID, name


def test_dashboards_show_latency_traffic_errors_host_jobs_predictions_scores_and_drift():
    exprs = " ".join(expr for d in load_dashboards().values() for _, expr in dashboard_exprs(d))
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(flask_http_request_duration_seconds_bucket" in exprs
    for needle in (
        "rate(flask_http_request_total[",
        'flask_http_request_total{status=~"4.."}',
        'flask_http_request_total{status=~"5.."}',
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "csv_analyzer_training_jobs_total",
        "csv_analyzer_jobs_running",
        "sum by (model_id) (rate(csv_analyzer_predictions_total",
        "csv_analyzer_prediction_latency_seconds_bucket",
        "csv_analyzer_model_score",
        "csv_analyzer_feature_drift_psi",
    ):
        assert needle in exprs, needle


# --- Queries against a real Prometheus -------------------------------------------------------


METRICS_TOKEN = "metrics-token-for-the-scrape-test"


@pytest.fixture(scope="module")
def prometheus(request, tmp_path_factory):
    """A Prometheus on loopback with the repo's rules and scrape settings, scraping every second
    a real node-exporter and the real app (METRICS_TOKEN set): as `web` with the token, as
    `web-no-token` without. Prometheus starts first: it takes ~5 s to hand targets to its
    scraper, time the app uses to start."""
    from app import create_app
    from app.extensions import db
    from config import TestConfig

    port = free_port()
    web = [f"127.0.0.1:{port}"]
    with start_node_exporter() as node, start_prometheus(
        {"node": [node], "web": web, "web-no-token": web}, metrics_token=METRICS_TOKEN
    ) as prom:
        instance = tmp_path_factory.mktemp("monitoring") / "instance"
        shutil.copytree(request.getfixturevalue("template_instance"), instance)
        config = TestConfig(instance)
        config.METRICS_TOKEN = METRICS_TOKEN
        app = create_app(config)
        try:
            with serve_wsgi(app, port) as address:
                assert http_get(f"http://{address}/auth/login")[0] == 200
                assert http_get(f"http://{address}/metrics")[0] == 401
                prom.wait_for_targets({"node", "web"})
                yield prom
        finally:
            with app.app_context():
                db.engine.dispose()


def test_prometheus_scrapes_the_app_with_the_metrics_token_and_is_refused_without(prometheus):
    prometheus.wait_for_targets({"web"})  # waits out a scrape that timed out on a busy machine
    by_job = {t["labels"]["job"]: t for t in prometheus.targets()}
    deadline = time.monotonic() + 10
    while by_job["web-no-token"]["health"] != "down" and time.monotonic() < deadline:
        time.sleep(0.2)
        by_job = {t["labels"]["job"]: t for t in prometheus.targets()}
    assert "401" in by_job["web-no-token"]["lastError"]
    prometheus.wait_for_metric("flask_http_request_total")
    [login] = prometheus.query('flask_http_request_total{job="web", method="GET", status="200"}')
    assert float(login["value"][1]) >= 1


def test_prometheus_refuses_a_broken_query(prometheus):
    with pytest.raises(PromQLError, match="parse error"):
        prometheus.query("sum by (job (rate(up[5m]))")


def test_prometheus_accepts_every_dashboard_query_and_rule_expression(prometheus):
    assert len(monitoring_exprs()) > 50
    refused = refused_queries(prometheus)
    assert not refused, "\n".join(refused)


def test_host_panels_and_recording_rules_show_data_from_node_exporter(prometheus):
    host = load_dashboards()["host.json"]
    deadline = time.monotonic() + 15
    while True:  # rates need two scrapes, recording rules an evaluation
        empty = [title for title, expr in dashboard_exprs(host)
                 if not prometheus.query(substitute_grafana_variables(expr))]
        for record in ("instance:node_cpu_utilisation:rate5m", "instance:node_memory_utilisation:ratio"):
            if not prometheus.query(record):
                empty.append(record)
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not empty, f"no data for {empty}"
    [memory] = prometheus.query("instance:node_memory_utilisation:ratio")
    assert 0 < float(memory["value"][1]) < 1


def metric_name_sources(prometheus) -> set[str]:
    node_names = {n for n in prometheus.metric_names() if n.startswith("node_")}
    assert "node_cpu_seconds_total" in node_names
    return app_metric_names() | node_names | recorded_names() | {"up"}


def test_the_scraped_app_exposes_only_names_the_static_list_knows(prometheus):
    prometheus.wait_for_metric("csv_analyzer_upload_bytes_bucket")
    scraped = {
        row["__name__"]
        for row in prometheus.api("series", **{"match[]": '{job="web"}'})[1]["data"]
    }
    scrape_series = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
    assert "csv_analyzer_upload_bytes_bucket" in scraped
    assert {n for n in scraped - scrape_series if ":" not in n} <= app_metric_names()


def test_every_metric_name_a_panel_or_rule_uses_exists(prometheus):
    used = used_metric_names()
    assert {"node_uname_info", "csv_analyzer_predictions_total", "up"} <= set(used), "variables and queries read"
    unknown = unknown_metric_names(metric_name_sources(prometheus))
    assert not unknown, "\n".join(unknown)


def test_metric_name_check_catches_a_typo(prometheus):
    known = metric_name_sources(prometheus)
    assert promql_metric_names('sum(rate(flask_http_requests_total{status=~"5.."}[5m]))') - known
    assert not promql_metric_names('sum by (model_id) (rate(csv_analyzer_predictions_total[5m]))') - known


def test_the_app_defines_the_metric_names_of_the_api_contract():
    names = app_metric_names()
    assert names >= CONTRACT_METRIC_NAMES, sorted(CONTRACT_METRIC_NAMES - names)
