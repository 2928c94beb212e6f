"""What the monitoring config queries: the PromQL of the Grafana dashboards and the Prometheus
rules, the metric names in it, and the names the app can expose. No tools needed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import yaml
from prometheus_helpers import GRAFANA_DIR, PROMETHEUS_DIR, Prometheus, PromQLError

# The metric names of the API contract (API.md, "Metrics"): the app defines them and a scrape
# after one pass through the journey shows a series of each.
CONTRACT_METRIC_NAMES = frozenset({
    "flask_http_request_duration_seconds_bucket",
    "flask_http_request_total",
    "csv_analyzer_uploads_total",
    "csv_analyzer_upload_bytes_bucket",
    "csv_analyzer_ingest_duration_seconds_bucket",
    "csv_analyzer_training_jobs_total",
    "csv_analyzer_training_duration_seconds_bucket",
    "csv_analyzer_jobs_running",
    "csv_analyzer_predictions_total",
    "csv_analyzer_prediction_latency_seconds_bucket",
    "csv_analyzer_model_score",
    "csv_analyzer_feature_drift_psi",
})

# --- PromQL and Grafana ----------------------------------------------------------------------

GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "${__range}": "1h",
}
PROMQL_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "atan2",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")


def substitute_grafana_variables(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana's built-in and dashboard variables so Prometheus can run the query.

    Dashboard variables (`$model_id`, `${instance}`) become `.*`, their "All" value.
    """
    for name, value in {**GRAFANA_VARIABLES, **(values or {})}.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (strings, label matchers, ranges and label lists removed)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in PROMQL_KEYWORDS}


def variable_query_metric_names(query: str) -> set[str]:
    """Metric names in a Grafana Prometheus variable query such as label_values(metric, label)."""
    match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*", query)
    if match:
        return promql_metric_names(match.group(1))
    match = re.fullmatch(r"\s*(?:query_result|metrics)\((.*)\)\s*", query)
    return promql_metric_names(match.group(1)) if match else set()


def load_dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA_DIR / "dashboards").glob("*.json"))}


def iter_panels(panels: list[dict]) -> Iterator[dict]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) for every query target of a dashboard."""
    return [
        (panel.get("title", ""), target["expr"])
        for panel in iter_panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def rule_groups() -> dict[str, list[dict]]:
    """Rules of every ops/prometheus/rules file, by file name."""
    return {
        p.name: [rule for group in yaml.safe_load(p.read_text())["groups"] for rule in group["rules"]]
        for p in sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    }


def monitoring_exprs(*, dashboards: bool = True, rules: bool = True) -> list[tuple[str, str]]:
    """(where, PromQL) for every dashboard target and rule expression, Grafana variables substituted."""
    found = []
    if dashboards:
        found += [
            (f"{name}: {title}", substitute_grafana_variables(expr))
            for name, dashboard in load_dashboards().items()
            for title, expr in dashboard_exprs(dashboard)
        ]
    if rules:
        found += [
            (f"{name}: {rule.get('record') or rule.get('alert')}", rule["expr"])
            for name, rules_ in rule_groups().items()
            for rule in rules_
        ]
    return found


def used_metric_names(*, dashboards: bool = True, rules: bool = True) -> dict[str, list[str]]:
    """Every metric name the dashboards (queries and variables) and rules use -> where."""
    used: dict[str, list[str]] = {}
    for where, expr in monitoring_exprs(dashboards=dashboards, rules=rules):
        for name in promql_metric_names(expr):
            used.setdefault(name, []).append(where)
    for name, dashboard in load_dashboards().items() if dashboards else ():
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            names = variable_query_metric_names(query)
            if not names:
                raise ValueError(f"{name}: cannot read the variable query {query!r}")
            for metric in names:
                used.setdefault(metric, []).append(f"{name}: ${variable['name']}")
    return used


def refused_queries(prom: Prometheus, exprs: list[tuple[str, str]] | None = None) -> list[str]:
    """The expressions (default: every dashboard and rule one) that Prometheus refuses, with why."""
    refused = []
    for where, expr in monitoring_exprs() if exprs is None else exprs:
        try:
            prom.query(expr)
        except PromQLError as exc:
            refused.append(f"{where}: {exc}")
    return refused


def unknown_metric_names(known: set[str], **which: bool) -> list[str]:
    """Names used by dashboards/rules that are not in `known` (e.g. prom.metric_names()), with where."""
    return [f"{name} ({', '.join(where)})" for name, where in sorted(used_metric_names(**which).items())
            if name not in known]


# --- The app's metric names ------------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def app_metric_names() -> set[str]:
    """Every series name the app's /metrics can expose: its own metrics and the Flask exporter's.

    Built by registering them the way app.telemetry does, on a bare Flask app.
    """
    from flask import Flask

    from app.telemetry import init_metrics

    app = Flask("metric-names")
    init_metrics(app)
    names = set()
    for family in app.extensions["metrics_registry"].collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names
