"""Monitoring end to end, over the rendered production overlays and the plain Prometheus configuration:
the PrometheusRule is alerts.yml, every `job` an alert selects is a scrape job the monitors (and
prometheus.yml) produce, promtool accepts the configuration, and KEDA's targets resolve and are admitted."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tests.deploy.helpers import find
from tests.deploy.operated import operated_pods
from tests.deploy.test_operators import production_secrets
from tests.deploy.test_security import allowed, matches
from tests.observability.deployed import DEPLOY, alert_rules
from tests.observability.prometheus_rule import RULE_FILE, render
from tests.promtool import promtool

# Scraped by the cluster's own kube-state-metrics: alerts select its metrics by name, not by job.
CLUSTER_JOBS: set[str] = set()


def selected_jobs() -> dict[str, set[str]]:
    """alert -> the `job` values its expression selects."""
    return {rule["alert"]: set(re.findall(r'job="([^"]+)"', rule["expr"])) for rule in alert_rules()}


def monitor_jobs(found: list[dict]) -> set[str]:
    """The `job` label each ServiceMonitor/PodMonitor endpoint gives its targets."""
    jobs = set()
    for monitor in (o for o in found if o["kind"] in ("ServiceMonitor", "PodMonitor")):
        spec = monitor["spec"]
        for endpoint in spec.get("endpoints", []) + spec.get("podMetricsEndpoints", []):
            relabel = [r for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]
            if relabel:
                jobs.add(relabel[-1]["replacement"])
            elif monitor["kind"] == "ServiceMonitor":
                jobs.add(monitor["metadata"]["name"])  # the Service's name, when no jobLabel is set
            else:
                jobs.add(f"{monitor['metadata']['namespace']}/{monitor['metadata']['name']}")
    return jobs


def test_the_prometheus_rule_is_generated_from_alerts_yml():
    assert RULE_FILE.read_text() == render(), "run: python -m tests.observability.prometheus_rule --write"
    assert yaml.safe_load(RULE_FILE.read_text())["spec"] == yaml.safe_load((DEPLOY / "alerts.yml").read_text())


def test_the_rules_the_prometheus_rule_hands_to_prometheus_pass_promtool_check_rules(tmp_path):
    """promtool reads bare rule files, not Kubernetes objects: its check runs on the PrometheusRule's spec,
    the rule groups the Prometheus Operator loads."""
    path = tmp_path / "prometheusrule_spec.yml"
    path.write_text(yaml.safe_dump(yaml.safe_load(RULE_FILE.read_text())["spec"]))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("overlay", ["production", "keda"])
def test_every_job_an_alert_selects_is_scraped_by_a_monitor(objects, overlay):
    found = objects[overlay]
    rule = find(found, "PrometheusRule", "inference-api")
    assert rule["spec"] == yaml.safe_load((DEPLOY / "alerts.yml").read_text()), "the rendered rule is alerts.yml"
    jobs = monitor_jobs(found) | CLUSTER_JOBS
    missing = {alert: wanted - jobs for alert, wanted in selected_jobs().items() if wanted - jobs}
    assert not missing, f"alerts selecting jobs nothing scrapes: {missing} (scraped: {sorted(jobs)})"
    for alert in (
        "InferenceAPIDown",
        "InferenceWorkersDown",
        "InferenceRabbitMQUnreachable",
        "InferencePostgresUnreachable",
    ):
        assert selected_jobs()[alert], f"{alert} must watch a scrape job's `up`"


def plain_config() -> dict:
    return yaml.safe_load((DEPLOY / "prometheus.yml").read_text())


def test_the_plain_prometheus_config_has_the_same_jobs_and_loads_the_alerts():
    config = plain_config()
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    wanted = set().union(*selected_jobs().values())
    assert wanted <= jobs, wanted - jobs
    assert config["rule_files"] == ["alerts.yml"]
    for job in config["scrape_configs"]:
        (sd,) = job["kubernetes_sd_configs"]
        assert sd["role"] == "pod" and sd["namespaces"]["names"] == ["inference-api"]
        keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
        assert keep, f"{job['job_name']}: keeps every pod of the namespace"


def test_the_plain_prometheus_config_passes_promtool_check_config(tmp_path):
    """promtool checks the file as written. Debian's promtool is built without Kubernetes discovery: there,
    each kubernetes_sd_configs is checked by the test above and promtool checks the rest, with an empty
    static target list in its place (the relabelling rules, globals and rule files are then all promtool's)."""
    (tmp_path / "alerts.yml").write_text((DEPLOY / "alerts.yml").read_text())
    path = tmp_path / "prometheus.yml"
    path.write_text((DEPLOY / "prometheus.yml").read_text())
    done = promtool("check", "config", str(path))
    if "field kubernetes_sd_configs not found" in done.stdout + done.stderr:
        config = plain_config()
        for job in config["scrape_configs"]:
            del job["kubernetes_sd_configs"]
            job["static_configs"] = [{"targets": []}]
        path.write_text(yaml.safe_dump(config))
        done = promtool("check", "config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_keda_reads_the_broker_by_its_full_name_through_a_secret_and_a_policy_admits_it(objects):
    found = objects["keda"]
    auth = find(found, "TriggerAuthentication", "keda-rabbitmq")["spec"]["secretTargetRef"]
    (host,) = [ref for ref in auth if ref["parameter"] == "host"]
    url = urlparse(production_secrets(found)[host["name"]][host["key"]])
    service, namespace, *rest = url.hostname.split(".")
    assert (namespace, rest) == ("inference-api", ["svc", "cluster", "local"]), url.hostname
    # The RabbitMQ Cluster Operator names the client Service after the RabbitmqCluster.
    assert service == find(found, "RabbitmqCluster", service)["metadata"]["name"]
    broker_labels, ports = operated_pods(found)["broker"]
    assert url.port == ports["amqp"]
    policies = [o for o in found if o["kind"] == "NetworkPolicy"]
    keda = [
        p
        for p in policies
        if "Ingress" in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], broker_labels)
    ]
    admitted = any(
        any(
            peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "keda"}
            for peer in r.get("from", [])
        )
        and any(p.get("port") == url.port for p in r.get("ports", []))
        for p in keda
        for r in p["spec"].get("ingress", [])
    )
    assert admitted, "no NetworkPolicy admits KEDA's namespace to the broker's AMQP port"
    trigger = next(t for t in find(found, "ScaledObject", "worker")["spec"]["triggers"] if t["type"] == "rabbitmq")
    assert trigger["authenticationRef"]["name"] == "keda-rabbitmq" and "host" not in trigger["metadata"]
    assert not allowed(policies, {"app.kubernetes.io/name": "somebody-else"}, broker_labels, 5672)


def test_the_keda_prometheus_query_parses_and_names_the_server_by_its_full_name(objects, tmp_path):
    trigger = next(
        t for t in find(objects["keda"], "ScaledObject", "worker")["spec"]["triggers"] if t["type"] == "prometheus"
    )
    assert urlparse(trigger["metadata"]["serverAddress"]).hostname.endswith(".svc.cluster.local")
    rules = {
        "groups": [{"name": "keda", "rules": [{"record": "keda:jobs_waiting", "expr": trigger["metadata"]["query"]}]}]
    }
    path = tmp_path / "keda_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_sweeper_entry_serves_the_sweepers_counters_while_it_sweeps(objects, tmp_path):
    """The sweeper Deployment's own command, run here: its port answers with the sweeper's counters while
    the loop carries on through a database and broker that are down."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.servers import free_port

    container = find(objects["minikube"], "Deployment", "sweeper")["spec"]["template"]["spec"]["containers"][0]
    python, entry, port, *command = container["command"]
    assert (python, Path(entry).name) == ("python", "serve_metrics.py")
    assert int(port) == next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")
    port = str(free_port())
    command = [c.replace("$(SWEEP_EVERY)", "3600") for c in command]
    env = {**os.environ, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x", "BROKER_URL": "amqp://g:g@127.0.0.1:1/"}
    script = DEPLOY.parent / "k8s" / "base" / "metrics" / "serve_metrics.py"
    process = subprocess.Popen(
        [sys.executable, str(script), port, *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, text = time.monotonic() + 20, ""
        while time.monotonic() < deadline and "inference_api_sweeper_lost_jobs_total" not in text:
            time.sleep(0.3)
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                continue
        assert "inference_api_sweeper_lost_jobs_total" in text and process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=10)
