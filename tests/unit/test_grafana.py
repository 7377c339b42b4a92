"""The Grafana dashboard names the provisioned datasource, and every query names metrics (and
labels) that the monitor really exports: the list is collected from the real collectors
(``streams.web.monitor_registry`` fed with events, and the alert router's collector), never kept
by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from driftline.alerts import RoutingCollector, RoutingStats
from driftline.config import parse_config
from driftline.events import decode
from streams.outcome import Outcome
from streams.stages import JoinStage, MonitorResult, MonitorStage
from streams.web import monitor_registry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "infra" / "grafana" / "dashboards" / "driftline.json"
DATASOURCES = ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROMETHEUS = ROOT / "infra" / "prometheus" / "prometheus.yml"
SERVER_LABELS = {"job", "instance", "le"}  # added by Prometheus at scrape / by histograms

CONFIG = """\
model: shop
kafka: {partitions: 1}
tasks:
  churn: {type: binary, slices: [country], detectors: [{kind: adwin, severity: critical}]}
  spend: {type: regression, detectors: [{kind: page_hinkley}], thresholds: [{metric: mae, op: '>', value: 9}]}
"""


def exported() -> dict[str, set[str]]:
    """Metric name (as queried: with ``_total``, ``_bucket``, ...) → its label names."""
    config = parse_config(CONFIG)
    join, monitor = JoinStage(config, 1), MonitorStage(config)
    join.process("predictions", 0, 0, b"p-1", json.dumps({
        "schema": "driftline.prediction/1", "prediction_id": "p-1", "model": "shop",
        "model_version": "1", "entity_id": "e", "event_time": "2026-11-23T12:00:00Z",
        "outputs": {"churn": {"score": 0.7}, "spend": {"value": 3.0}}}).encode())  # fmt: skip
    result = MonitorResult()
    for i, (task, y_pred, y_true) in enumerate([("churn", 0.7, 1), ("spend", 3.0, 2.5)]):
        outcome = Outcome("labelled", "shop", "1", task, f"p-{i}", 0.0, ("labels", 0, i, 0, 0),
                          y_pred=y_pred, y_true=y_true, segments={"country": "DE"})  # fmt: skip
        monitor.apply(outcome, result)
    from driftline.alerts.payload import _EXAMPLE

    monitor.alert_stats.observe([decode(_EXAMPLE)])
    stats = RoutingStats()
    stats.attempt("ops", ok=True)
    stats.delivered("ops", produced_at=0.0)
    registry = monitor_registry(join, monitor, lambda: {("predictions", 0): 3})
    router = CollectorRegistry()
    router.register(RoutingCollector(stats))
    names: dict[str, set[str]] = {}
    for family in [*registry.collect(), *router.collect()]:
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL expression) of every panel target, variable and annotation."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        query = (
            variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        )
        inner = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert inner, f"variable {variable['name']}: {query}"
        found.append((f"variable {variable['name']!r}", inner.group(1)))
    for annotation in dashboard["annotations"]["list"]:
        found.append((f"annotation {annotation['name']!r}", annotation["expr"]))
    return found


def test_every_panel_uses_the_provisioned_prometheus_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    uid = {d["uid"] for d in provisioned if d["type"] == "prometheus"}
    assert len(uid) == 1
    sources = [p["datasource"] for p in dashboard["panels"] if p["type"] != "row"]
    sources += [t["datasource"] for p in dashboard["panels"] for t in p.get("targets", [])]
    sources += [v["datasource"] for v in dashboard["templating"]["list"]]
    sources += [a["datasource"] for a in dashboard["annotations"]["list"]]
    assert sources and all(s == {"type": "prometheus", "uid": next(iter(uid))} for s in sources)
    assert all(p.get("targets") for p in dashboard["panels"] if p["type"] != "row")


def problems(dashboard: dict[str, Any], names: dict[str, set[str]]) -> tuple[list[str], set[str]]:
    """What in the dashboard's queries the monitor does not export; and the metrics used."""
    found: list[str] = []
    used: set[str] = set()
    for where, expr in targets(dashboard):
        metrics = [m for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if m.startswith(("driftline_", "process_", "python_"))]  # fmt: skip
        if not metrics:
            found.append(f"{where}: no driftline metric in {expr!r}")
        for metric in metrics:
            used.add(metric)
            if metric not in names:
                found.append(f"{where}: {metric} is not exported")
        for metric, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers):
                if metric in names and label not in names[metric] | SERVER_LABELS:
                    found.append(f"{where}: {metric} has no label {label!r}")
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            known = set().union(*(names.get(m, set()) for m in metrics)) | SERVER_LABELS
            for label in (g.strip() for g in group.split(",")):
                if label not in known:
                    found.append(f"{where}: grouping by unknown label {label!r}")
    return found, used


def test_every_query_names_metrics_and_labels_the_monitor_exports() -> None:
    names = exported()
    assert "driftline_alerts_total" in names and "process_cpu_seconds_total" in names
    assert "model_version" in names["driftline_task_metric"]
    found, used = problems(json.loads(DASHBOARD.read_text()), names)
    assert found == []
    assert {"driftline_alerts_total", "driftline_alert_latency_seconds_bucket",
            "driftline_alert_deliveries_total"} <= used  # fmt: skip


def test_a_wrong_metric_or_label_would_be_caught() -> None:
    """The check is not vacuous: a misspelt metric and an unknown label are reported."""
    dashboard = json.loads(DASHBOARD.read_text())
    dashboard["panels"][1]["targets"][0]["expr"] = 'driftline_task_metrics{task="churn"}'
    dashboard["panels"][2]["targets"][0]["expr"] = 'driftline_label_coverage{tenant="a"}'
    found, _ = problems(dashboard, exported())
    assert found == [
        "panel 'Task metric (rolling window)': driftline_task_metrics is not exported",
        "panel 'Label coverage': driftline_label_coverage has no label 'tenant'",
    ]


def test_prometheus_scrapes_the_monitor_port() -> None:
    from driftline.config.models import MonitorConfig

    scrape = yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"][0]
    assert scrape["dns_sd_configs"][0]["names"] == ["monitor"]
    assert scrape["dns_sd_configs"][0]["port"] == MonitorConfig().web_port
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose["prometheus"]["volumes"]  # fmt: skip
    assert "./infra/grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose["grafana"]["volumes"]  # fmt: skip
