"""The production overlays' custom resources validate against the operators' own schemas (strict: an
unknown field fails), and say what the design asks of replicated servers: three PostgreSQL instances
with an application role apart from the owner, a pooler, backups; three RabbitMQ nodes with quorum
queues, an absolute memory watermark under the container's limit and one node per host."""

from __future__ import annotations

import base64
import json
import re
from functools import cache

import jsonschema
import pytest

from tests.deploy.helpers import ROOT, find
from tests.deploy.test_manifests import quantity
from tests.servers import IN_CI

# The schemas sit beside the clone (../shared/crds), read-only; CI copies them there too.
CRDS = ROOT.parent / "shared" / "crds"
SCHEMAS = {
    "Cluster": "postgresql.cnpg.io/cluster_v1.json",
    "Pooler": "postgresql.cnpg.io/pooler_v1.json",
    "ScheduledBackup": "postgresql.cnpg.io/scheduledbackup_v1.json",
    "RabbitmqCluster": "rabbitmq.com/rabbitmqcluster_v1beta1.json",
    "ScaledObject": "keda.sh/scaledobject_v1alpha1.json",
    "TriggerAuthentication": "keda.sh/triggerauthentication_v1alpha1.json",
    "ServiceMonitor": "monitoring.coreos.com/servicemonitor_v1.json",
    "PodMonitor": "monitoring.coreos.com/podmonitor_v1.json",
    "PrometheusRule": "monitoring.coreos.com/prometheusrule_v1.json",
}


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    path = CRDS / SCHEMAS[kind]
    if not path.is_file():
        message = f"no operator schemas at {CRDS} (they sit beside the clone: ../shared/crds)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: custom resources must be validated")
        pytest.skip(message)
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def errors(o: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.path))}: {e.message[:200]}" for e in validator(o["kind"]).iter_errors(o)]


@pytest.mark.parametrize("overlay", ["production", "keda"])
def test_every_custom_resource_validates_against_its_operators_schema(objects, overlay):
    custom = [o for o in objects[overlay] if o["kind"] in SCHEMAS]
    unused = {"ServiceMonitor"}  # every scrape goes straight to the pods (PodMonitors); validated if one comes
    assert {o["kind"] for o in custom} >= set(SCHEMAS) - unused - (
        {"ScaledObject", "TriggerAuthentication"} if overlay == "production" else set()
    )
    problems = {f"{o['kind']}/{o['metadata']['name']}": errors(o) for o in custom}
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}


def test_the_schemas_are_strict_an_unknown_field_fails(objects):
    cluster = find(objects["production"], "Cluster", "inference-db")
    assert errors({**cluster, "spec": {**cluster["spec"], "instancez": 3}}), "the schema accepted an unknown field"


def test_postgresql_is_three_instances_with_an_application_role_apart_from_the_owner(objects):
    found = objects["production"]
    cluster = find(found, "Cluster", "inference-db")["spec"]
    assert cluster["instances"] == 3 and cluster["enableSuperuserAccess"] is False
    owner = cluster["bootstrap"]["initdb"]["owner"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert len(roles) == 1 and owner not in roles
    app = next(iter(roles.values()))
    assert app["login"] and not app.get("superuser") and not app.get("createrole") and not app.get("createdb")
    assert set(app["inRoles"]) == {"pg_read_all_data", "pg_write_all_data"}, "reads and writes, no DDL"
    secrets = production_secrets(found)
    for name, user in (
        (cluster["bootstrap"]["initdb"]["secret"]["name"], owner),
        (app["passwordSecret"]["name"], app["name"]),
    ):
        assert secrets[name]["username"] == user, f"{name} is the password of {user}"
    values = secrets["inference-api-secrets"]
    assert values["DATABASE_URL"].startswith(f"postgresql://{app['name']}:"), "the application connects as its role"
    assert values["MIGRATE_DATABASE_URL"].startswith(f"postgresql://{owner}:"), "migrations run as the owner"
    # Monitoring: the exporter's port is scraped (tests/deploy/test_security.py), a PodMonitor selects it.
    assert find(found, "PodMonitor", "postgres")["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"] == "inference-db"
    pooler = find(found, "Pooler", "inference-db-pooler-rw")["spec"]
    assert pooler["cluster"]["name"] == "inference-db" and pooler["type"] == "rw" and pooler["instances"] >= 2
    # The API LISTENs for finished jobs (db/events.py): only session pooling keeps a LISTEN.
    assert pooler["pgbouncer"]["poolMode"] == "session"


def test_postgresql_is_backed_up_to_object_storage_every_day(objects):
    found = objects["production"]
    cluster = find(found, "Cluster", "inference-db")["spec"]
    store = cluster["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith(("s3://", "gs://", "https://")) and cluster["backup"]["retentionPolicy"]
    backup = find(found, "ScheduledBackup", "inference-db-daily")["spec"]
    assert backup["cluster"]["name"] == "inference-db" and backup["method"] == "barmanObjectStore"
    assert len(backup["schedule"].split()) == 6, "CloudNativePG's cron has seconds first"
    secrets = production_secrets(found)
    for ref in store["s3Credentials"].values():
        assert ref["key"] in secrets[ref["name"]], f"{ref['name']} lacks {ref['key']}"


def test_rabbitmq_is_three_nodes_with_quorum_queues_and_a_watermark_under_the_limit(objects):
    found = objects["production"]
    spec = find(found, "RabbitmqCluster", "rabbitmq")["spec"]
    assert spec["replicas"] == 3
    conf = dict(line.split(" = ", 1) for line in spec["rabbitmq"]["additionalConfig"].splitlines() if " = " in line)
    assert conf["default_queue_type"] == "quorum" and conf["default_vhost"] == "inference"
    config_map = next(
        o for o in found if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("inference-api-config")
    )
    assert config_map["data"]["QUEUE_TYPE"] == "quorum"
    assert "vm_memory_high_watermark.relative" not in conf, "relative reads the node's memory, not the container's"
    watermark = re.fullmatch(r"(\d+)MiB", conf["vm_memory_high_watermark.absolute"])
    limit = quantity(spec["resources"]["limits"]["memory"], "memory")
    assert spec["resources"]["requests"]["memory"] == spec["resources"]["limits"]["memory"]
    assert watermark and 0.4 * limit <= int(watermark.group(1)) <= 0.7 * limit, (watermark, limit)
    assert "rabbitmq_prometheus" in spec["rabbitmq"]["additionalPlugins"]
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "rabbitmq"
    credentials = production_secrets(found)[spec["secretBackend"]["externalSecret"]["name"]]
    broker = production_secrets(found)["inference-api-secrets"]["BROKER_URL"]
    assert all(
        url.startswith(f"amqp://{credentials['username']}:{credentials['password']}@") for url in broker.split(";")
    )


def production_secrets(found: list[dict]) -> dict[str, dict[str, str]]:
    """Every Secret the production rendering has, decoded."""
    return {
        o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in o.get("data", {}).items()}
        for o in found
        if o["kind"] == "Secret"
    }
