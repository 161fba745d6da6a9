"""Every pod is locked down (restricted Pod Security Standard and more), sized, and fenced by NetworkPolicies."""

from __future__ import annotations

import pytest

from tests.deploy.helpers import find, pod_specs
from tests.deploy.operated import operated_pods

OVERLAYS = ["minikube", "production", "keda"]


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_locked_down(objects, overlay):
    problems = []
    for workload, spec in pod_specs(objects[overlay]):
        pod = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{workload}: mounts a service account token")
        for c in containers(spec):
            sc = c.get("securityContext", {})
            where = f"{workload}/{c['name']}"
            if sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
                problems.append(f"{where}: runAsNonRoot")
            if not pod.get("runAsUser", sc.get("runAsUser")):
                problems.append(f"{where}: no runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc["capabilities"].get("add"):
                problems.append(f"{where}: capabilities must drop ALL and add none")
            seccomp = sc.get("seccompProfile", pod.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile RuntimeDefault")
            resources = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    problems.append(f"{where}: {part} for cpu and memory")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_main_container_has_a_writable_tmp_from_an_empty_dir(objects, overlay):
    for workload, spec in pod_specs(objects[overlay]):
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec["containers"]:
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in empty_dirs, f"{workload}/{c['name']}: /tmp is not an emptyDir"


def test_the_namespace_enforces_the_restricted_pod_security_standard(objects):
    for found in objects.values():
        labels = find(found, "Namespace", "inference-api")["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_long_running_workload_has_a_disruption_budget_or_is_a_single_stateful_node(objects):
    found = objects["production"]
    budgets = [o for o in found if o["kind"] == "PodDisruptionBudget"]
    for name in ("api", "worker"):
        labels = find(found, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert any(matches(b["spec"]["selector"], labels) for b in budgets), f"no PodDisruptionBudget for {name}"


def test_the_api_scales_on_cpu_with_an_hpa(objects):
    for found in objects.values():
        hpa = find(found, "HorizontalPodAutoscaler", "api")
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


# NetworkPolicies, evaluated: which component may open a connection to which, on which port.


def matches(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        present = e["key"] in labels
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
        if e["operator"] == "NotIn" and labels.get(e["key"]) in e["values"]:
            return False
        if (e["operator"] == "Exists") != present and e["operator"] in ("Exists", "DoesNotExist"):
            return False
    return True


def peer_allows(peers: list[dict] | None, labels: dict, in_namespace: bool) -> bool:
    if not peers:
        return True  # no `from`/`to`: everyone
    for peer in peers:
        if "ipBlock" in peer:
            continue
        namespace_ok = "namespaceSelector" not in peer if in_namespace else "namespaceSelector" in peer
        if namespace_ok and matches(peer.get("podSelector", {}), labels):
            return True
    return False


def port_allows(ports: list[dict] | None, port: int) -> bool:
    return not ports or any(p.get("port") == port for p in ports)


def allowed(policies: list[dict], src: dict, dst: dict, port: int) -> bool:
    """Both ends must allow it: an egress rule on the source's side, an ingress rule on the destination's."""

    def side(labels: dict, kind: str, rules: str, peer_key: str, other: dict) -> bool:
        selecting = [
            p for p in policies if kind in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], labels)
        ]
        return any(
            peer_allows(rule.get(peer_key), other, in_namespace=True) and port_allows(rule.get("ports"), port)
            for p in selecting
            for rule in p["spec"].get(rules, [])
        )

    return side(src, "Egress", "egress", "to", dst) and side(dst, "Ingress", "ingress", "from", src)


def templates(found: list[dict]) -> dict[str, dict]:
    """Each component's pod template."""
    found_templates = {}
    for o in found:
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            template = o["spec"]["template"]
        elif o["kind"] == "CronJob":
            template = o["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        found_templates[template["metadata"]["labels"]["app.kubernetes.io/component"]] = template
    return found_templates


def component_labels(found: list[dict]) -> dict[str, dict]:
    """Each component's pod labels: our templates, and the pods the operators make from our resources."""
    labels = {component: t["metadata"]["labels"] for component, t in templates(found).items()}
    return {**labels, **{component: pod[0] for component, pod in operated_pods(found).items()}}


def test_network_policies_deny_by_default_and_allow_only_the_paths_the_system_uses(objects):
    found = objects["production"]
    policies = [o for o in found if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not ({"ingress", "egress"} & set(p["spec"]))]
    assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in deny), "no default deny"
    pods = component_labels(found)
    outsider = {"app.kubernetes.io/name": "somebody-else"}
    expected = {
        ("api", "database", 5432): True,
        ("api", "broker", 5672): True,
        ("worker", "database", 5432): True,
        ("worker", "broker", 5672): True,
        ("sweeper", "database", 5432): True,
        ("sweeper", "broker", 5672): True,
        ("purge", "database", 5432): True,
        ("purge", "broker", 5672): False,
        ("migrate", "database", 5432): True,
        ("prepare", "database", 5432): True,
        ("migrate", "broker", 5672): False,
        ("prepare", "broker", 5672): False,
        ("worker", "api", 8000): False,
        ("api", "worker", 9191): False,
        ("broker", "database", 5432): False,
        ("api", "database", 5433): False,
        ("api", "pooler", 5432): True,
        ("worker", "pooler", 5432): True,
        ("pooler", "database", 5432): True,
        ("database", "database", 5432): True,
        ("broker", "broker", 25672): True,
        ("pooler", "broker", 5672): False,
    }
    wrong = {
        path: want
        for path, want in expected.items()
        if allowed(policies, pods[path[0]], pods[path[1]], path[2]) != want
    }
    assert not wrong, f"paths allowed or denied wrongly (expected value shown): {wrong}"
    # Clients reach the API port from outside the namespace; nothing else is open to them.
    api_ingress = [
        p for p in policies if "Ingress" in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], pods["api"])
    ]
    assert any(
        port_allows(r.get("ports"), 8000) and not r.get("from")
        for p in api_ingress
        for r in p["spec"].get("ingress", [])
    )
    for component in ("database", "broker", "worker"):
        for p in policies:
            if "Ingress" in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], pods[component]):
                assert all(r.get("from") for r in p["spec"].get("ingress", [])), f"{component} is open to all"
    assert not allowed(policies, outsider, pods["database"], 5432)


def monitored_pods(found: list[dict]) -> list[tuple[str, dict, int]]:
    """(monitor, labels of a pod it selects, port number) for every ServiceMonitor/PodMonitor endpoint."""
    pods = {c: (t["metadata"]["labels"], container_ports(t["spec"])) for c, t in templates(found).items()}
    pods.update(operated_pods(found))
    services = {o["metadata"]["name"]: o for o in found if o["kind"] == "Service"}
    scraped = []
    for monitor in (o for o in found if o["kind"] in ("ServiceMonitor", "PodMonitor")):
        name, spec = monitor["metadata"]["name"], monitor["spec"]
        selected = [(labels, ports) for labels, ports in pods.values() if matches(spec["selector"], labels)]
        assert selected, f"{name} selects no pod"
        for endpoint in spec.get("endpoints", []) + spec.get("podMetricsEndpoints", []):
            for labels, ports in selected:
                port = endpoint["port"]
                if monitor["kind"] == "ServiceMonitor":  # the Service's port name, then its target port
                    service = next(
                        s for s in services.values() if matches({"matchLabels": s["spec"]["selector"]}, labels)
                    )
                    port = next(p["targetPort"] for p in service["spec"]["ports"] if p["name"] == port)
                assert port in ports, f"{name}: no port {port} on the pods it selects ({ports})"
                scraped.append((name, labels, ports[port]))
    return scraped


def container_ports(spec: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", []) if "name" in p}


@pytest.mark.parametrize("overlay", ["production", "keda"])
def test_prometheus_may_scrape_every_port_a_monitor_names(objects, overlay):
    found = objects[overlay]
    policies = [o for o in found if o["kind"] == "NetworkPolicy"]
    scraped = monitored_pods(found)
    for name, labels, port in scraped:
        ingress = [
            p for p in policies if "Ingress" in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], labels)
        ]
        from_monitoring = any(
            port_allows(r.get("ports"), port) and admits_monitoring(r.get("from"))
            for p in ingress
            for r in p["spec"].get("ingress", [])
        )
        assert from_monitoring, f"{name}: Prometheus (namespace monitoring) may not reach port {port}"
    monitors = {name for name, _, _ in scraped}
    assert {"inference-api", "inference-worker", "inference-sweeper", "rabbitmq", "postgres"} <= monitors


def admits_monitoring(peers: list[dict] | None) -> bool:
    """No `from` (open to all, as the API's port), or a peer that is the namespace `monitoring`."""
    namespaces = [peer.get("namespaceSelector", {}).get("matchLabels", {}) for peer in peers or []]
    return not peers or any(n.get("kubernetes.io/metadata.name") == "monitoring" for n in namespaces)
