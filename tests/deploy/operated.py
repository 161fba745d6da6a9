"""The pods the operators make from our custom resources, as the tests need them: their labels and the
ports they listen on (from the operators' documented behaviour; no cluster to ask)."""

from __future__ import annotations

# Ports of the operators' pods, by port name: CloudNativePG's instances and PgBouncer poolers, the RabbitMQ
# Cluster Operator's nodes.
INSTANCE_PORTS = {"postgresql": 5432, "metrics": 9187, "status": 8000}
POOLER_PORTS = {"pgbouncer": 5432, "metrics": 9127}
BROKER_PORTS = {"amqp": 5672, "management": 15672, "prometheus": 15692, "epmd": 4369, "cluster-links": 25672}


def operated_pods(found: list[dict]) -> dict[str, tuple[dict, dict]]:
    """component -> (pod labels, {port name: port}) of each kind of pod an operator runs for us."""
    pods = {}
    for o in found:
        name, spec = o["metadata"]["name"], o.get("spec", {})
        if o["kind"] == "Cluster":
            labels = {**spec.get("inheritedMetadata", {}).get("labels", {}), "cnpg.io/cluster": name}
            pods["database"] = ({**labels, "cnpg.io/podRole": "instance"}, INSTANCE_PORTS)
        elif o["kind"] == "Pooler":
            labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
            pods["pooler"] = ({**labels, "cnpg.io/poolerName": name, "cnpg.io/podRole": "pooler"}, POOLER_PORTS)
        elif o["kind"] == "RabbitmqCluster":
            template = spec.get("override", {}).get("statefulSet", {}).get("spec", {}).get("template", {})
            operator = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "rabbitmq"}
            pods["broker"] = ({**operator, **template.get("metadata", {}).get("labels", {})}, BROKER_PORTS)
    return pods
