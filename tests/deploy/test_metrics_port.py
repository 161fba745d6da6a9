"""The API's `/metrics` on a port of its own (METRICS_PORT): Prometheus scrapes that port, straight to the
pods; the public Service and the port open to clients do not carry it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.test_security import admits_monitoring, component_labels, matches, monitored_pods, port_allows
from tests.deploy.test_wiring import container, environment

OVERLAYS = ["minikube", "production", "keda"]
PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "observability" / "prometheus.yml"


def api_ports(found: list[dict]) -> tuple[int, int]:
    """(public port, metrics port) of the API container: PORT and METRICS_PORT, each a named container port."""
    api = container(found, "Deployment", "api")
    env = environment(api, found)
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert env.get("METRICS_PORT"), "the API's METRICS_PORT is not set"
    public, metrics = int(env["PORT"]), int(env["METRICS_PORT"])
    assert (ports["http"], ports["metrics"]) == (public, metrics)
    assert public != metrics
    return public, metrics


@pytest.mark.parametrize("overlay", ["production", "keda"])
def test_prometheus_scrapes_the_api_on_its_metrics_port(objects, overlay):
    found = objects[overlay]
    _, metrics = api_ports(found)
    scraped = {port for name, _, port in monitored_pods(found) if name == "inference-api"}
    assert scraped == {metrics}


def test_the_plain_prometheus_configuration_scrapes_the_api_on_its_metrics_port():
    config = yaml.safe_load(PROMETHEUS.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "inference-api")
    keep = next(r for r in job["relabel_configs"] if r.get("action") == "keep")
    assert keep["regex"] == "api;metrics"  # component `api`, container port named `metrics`


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_service_exposes_the_api_metrics_port(objects, overlay):
    found = objects[overlay]
    _, metrics = api_ports(found)
    api = component_labels(found)["api"]
    for service in (o for o in found if o["kind"] == "Service"):
        if matches({"matchLabels": service["spec"].get("selector", {})}, api):
            targets = {p.get("targetPort", p["port"]) for p in service["spec"]["ports"]}
            assert not targets & {"metrics", metrics}, f"Service/{service['metadata']['name']} exposes /metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_monitoring_namespace_may_reach_the_api_metrics_port_and_anyone_the_public_one(objects, overlay):
    found = objects[overlay]
    public, metrics = api_ports(found)
    api = component_labels(found)["api"]
    rules = [
        rule
        for policy in found
        if policy["kind"] == "NetworkPolicy" and "Ingress" in policy["spec"]["policyTypes"]
        if matches(policy["spec"]["podSelector"], api)
        for rule in policy["spec"].get("ingress", [])
    ]
    to_metrics = [rule.get("from") for rule in rules if port_allows(rule.get("ports"), metrics)]
    assert to_metrics, "nothing may reach the API's metrics port"
    for peers in to_metrics:
        assert peers and admits_monitoring(peers), f"the metrics port is open beyond `monitoring`: {peers}"
        assert all(set(peer) == {"namespaceSelector"} for peer in peers)  # no pod of another namespace's
    assert any(port_allows(rule.get("ports"), public) and not rule.get("from") for rule in rules)
