"""Connection budgets, over the rendered production overlays: every pool the pods may open at once fits
what the pooler and PostgreSQL allow. Pods count at their most (the HPA's or KEDA's maximum, plus the
rolling update's surge); each process may fill its pool (db.connection.connect's max_connections), and
the API holds one more connection for LISTEN (db/events.py)."""

from __future__ import annotations

import inspect
from urllib.parse import urlparse

import pytest

from tests.deploy.helpers import find
from tests.deploy.test_operators import production_secrets
from tests.deploy.test_wiring import environment

# What PostgreSQL keeps for others than our pods: the operator's instance manager and exporter
# connections per instance (CloudNativePG opens a handful), counted generously.
OPERATOR_CONNECTIONS = 10
LISTEN_CONNECTIONS = {"api": 1}


def pool_size() -> int:
    from db.connection import connect

    return inspect.signature(connect).parameters["max_connections"].default


def most_pods(found: list[dict], o: dict) -> int:
    """The most pods of a workload at once: its autoscaler's maximum (or replicas), plus the surge."""
    name, spec = o["metadata"]["name"], o["spec"]
    if o["kind"] != "Deployment":
        return 1  # a Job, or a CronJob that forbids overlapping runs
    scalers = [
        h["spec"]["maxReplicas"]
        for h in found
        if h["kind"] == "HorizontalPodAutoscaler" and h["spec"]["scaleTargetRef"]["name"] == name
    ]
    scalers += [
        s["spec"]["maxReplicaCount"]
        for s in found
        if s["kind"] == "ScaledObject" and s["spec"]["scaleTargetRef"]["name"] == name
    ]
    pods = max(scalers) if scalers else spec.get("replicas", 1)
    strategy = spec.get("strategy", {})
    return pods + (
        int(strategy.get("rollingUpdate", {}).get("maxSurge", 1)) if strategy.get("type") != "Recreate" else 0
    )


def clients(found: list[dict]) -> dict[str, dict[str, int]]:
    """host -> {workload: connections it may hold}, from each container's DATABASE_URL."""
    secrets = production_secrets(found)["inference-api-secrets"]
    by_host: dict[str, dict[str, int]] = {}
    for o in found:
        if o["kind"] not in ("Deployment", "Job", "CronJob"):
            continue
        spec = o["spec"]["jobTemplate"]["spec"] if o["kind"] == "CronJob" else o["spec"]
        container = spec["template"]["spec"]["containers"][0]
        component = spec["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        ref = next(
            (e["valueFrom"]["secretKeyRef"]["key"] for e in container.get("env", []) if e["name"] == "DATABASE_URL"),
            None,
        )
        if ref is None:
            continue
        env = environment(container, found)
        processes = int(env.get("WORKER_PROCESSES") or 1) if component == "worker" else 1
        each = processes * pool_size() + LISTEN_CONNECTIONS.get(component, 0)
        host = urlparse(secrets[ref]).hostname
        by_host.setdefault(host, {})[o["metadata"]["name"]] = most_pods(found, o) * each
    return by_host


@pytest.mark.parametrize("overlay", ["production", "keda"])
def test_every_pool_the_pods_may_open_fits_the_pooler_and_postgresql(objects, overlay):
    found = objects[overlay]
    pooler = find(found, "Pooler", "inference-db-pooler-rw")
    cluster = find(found, "Cluster", "inference-db")
    parameters = cluster["spec"]["postgresql"]["parameters"]
    hosts = clients(found)
    pooled = hosts.pop(f"{pooler['metadata']['name']}.inference-api.svc.cluster.local")
    direct = hosts.pop(f"{cluster['metadata']['name']}-rw.inference-api.svc.cluster.local")
    assert not hosts, f"connections to no known host: {hosts}"
    assert set(direct) == {
        next(o["metadata"]["name"] for o in found if o["kind"] == "Job" and o["metadata"]["name"].startswith("migrate"))
    }
    bouncer = pooler["spec"]["pgbouncer"]["parameters"]
    total = sum(pooled.values())
    # Session pooling: each client holds a server connection, and the Service may send every client to
    # the same PgBouncer: one pooler alone must take them all.
    assert total <= int(bouncer["max_client_conn"]), (pooled, bouncer)
    assert total <= int(bouncer["default_pool_size"]), (pooled, bouncer)
    reserved = int(parameters["superuser_reserved_connections"]) + OPERATOR_CONNECTIONS
    assert total + sum(direct.values()) + reserved <= int(parameters["max_connections"]), (pooled, direct, parameters)


def test_the_statement_timeout_the_pooler_drops_is_set_on_the_server(objects):
    """PgBouncer ignores libpq's `options` (where the code puts statement_timeout): the server sets it."""
    found = objects["production"]
    bouncer = find(found, "Pooler", "inference-db-pooler-rw")["spec"]["pgbouncer"]["parameters"]
    assert "options" in bouncer["ignore_startup_parameters"].split(",")
    server = find(found, "Cluster", "inference-db")["spec"]["postgresql"]["parameters"]["statement_timeout"]
    env = environment(find(found, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0], found)
    assert int(server.removesuffix("s")) * 1000 == int(env["STATEMENT_TIMEOUT_MS"])
