"""deploy/observability: the alert rules pass promtool's checks and unit tests, and the dashboard's queries
parse and name only metrics the service exports (or the kubelet's)."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import REGISTRY

import actors.metrics  # noqa: F401  (registers the worker families)
import web.metrics  # noqa: F401  (registers the web families)
from tests.observability.deployed import DEPLOY, alert_rules, dashboard_queries
from tests.promtool import promtool

EXTERNAL = {  # Prometheus' own, the kubelet's, kube-state-metrics' and CloudNativePG's exporter's
    "up",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "kube_job_status_failed",
    "kube_job_owner",
    "cnpg_collector_up",
}
PER_APP = {"inference_api_queue_messages", "inference_api_queue_consumers", "inference_api_build_info"}
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
PROMQL_WORDS = {"sum", "max", "min", "by", "rate", "deriv", "histogram_quantile", "ignoring", "group_left", "and", "or"}


def exported() -> set[str]:
    names = set(PER_APP)
    for family in REGISTRY.collect():
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in ("", *SUFFIXES))
    return names


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", re.sub(r"\[[^\]]*\]", "", expr))
    # Label lists of aggregations and vector matching: `by (a, b)`, `on (a)`, `group_left (c)`.
    without_labels = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels))
    return {w for w in words if w not in PROMQL_WORDS and ("_" in w or w == "up")}


def test_the_alert_rules_pass_promtool_check_rules():
    done = promtool("check", "rules", str(DEPLOY / "alerts.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_pass_their_unit_tests_and_every_alert_has_one():
    done = promtool("test", "rules", str(DEPLOY / "alerts_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert {rule["alert"] for rule in alert_rules()} == fired
    assert {
        "InferenceBacklogGrowing",
        "InferenceJobErrorRatioHigh",
        "InferenceNoConsumers",
        "InferenceJobsSlow",
        "InferenceWorkerNotAlive",
    } <= fired


def test_the_dashboard_covers_what_an_operator_needs_at_a_glance():
    titles = " ".join(p["title"] for p in json.loads((DEPLOY / "dashboard.json").read_text())["panels"]).lower()
    for topic in ("throughput", "latency", "queue depth", "queue wait", "batch size", "error ratio", "cpu", "memory"):
        assert topic in titles, topic
    queries = " ".join(dashboard_queries())
    assert all(f"histogram_quantile({q}," in queries for q in ("0.5", "0.95", "0.99"))


def test_the_dashboard_queries_parse(tmp_path):
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e}
                                                         for i, e in enumerate(dashboard_queries())]}]}  # fmt: skip
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(path))  # PromQL parse errors fail here
    assert done.returncode == 0, done.stdout + done.stderr


def test_queries_and_alerts_name_only_metrics_that_exist():
    known = exported() | EXTERNAL
    used = set().union(*(metric_names(e) for e in [*dashboard_queries(), *(r["expr"] for r in alert_rules())]))
    assert used, "no metric names found"
    assert used <= known, sorted(used - known)
