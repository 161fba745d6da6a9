"""The manifests render with kustomize, and what they render is valid: schemas, KEDA models, yamllint."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.deploy.helpers import K8S, ROOT, find, kustomize, run, tool

KUBERNETES_VERSION = "1.34.0"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
OPERATED = {"Cluster", "Pooler", "ScheduledBackup", "RabbitmqCluster", "PodMonitor", "PrometheusRule"}
BUILT_IN = {"Namespace", "Deployment", "Job", "CronJob", "Service", "ConfigMap", "Secret"}


def test_every_overlay_renders_with_kustomize(objects):
    for name, found in objects.items():
        kinds = {o["kind"] for o in found}
        # Minikube runs its own PostgreSQL and RabbitMQ pods; production has the operators run them.
        expected = BUILT_IN | ({"StatefulSet"} if name == "minikube" else OPERATED)
        assert expected <= kinds, f"{name} lacks {expected - kinds}"
        if name != "minikube":
            assert "StatefulSet" not in kinds, f"{name}: the operators run the servers"
        assert all(o["metadata"].get("namespace") == "inference-api" for o in found if o["kind"] != "Namespace")
    assert {o["kind"] for o in objects["keda"]} >= KEDA_KINDS
    assert not KEDA_KINDS & {o["kind"] for o in objects["production"]}, "KEDA is a component, off by default"
    assert "replicas" not in find(objects["keda"], "Deployment", "worker")["spec"], "KEDA owns the worker count"


def test_every_kustomization_renders_as_cloned():
    kustomizations = sorted(path.parent for path in K8S.rglob("kustomization.yaml"))
    assert len(kustomizations) >= 5, kustomizations  # base, the keda component, three overlays
    for directory in kustomizations:
        kustomize(directory)


def test_the_production_secret_is_refused_without_its_env_file_and_says_how_to_make_it(tmp_path):
    result = run(str(K8S / "production-secret.sh"), "--print", str(tmp_path / ".env"))
    assert result.returncode == 2 and not result.stdout
    assert ".env.example" in result.stderr and "change every value" in result.stderr


def test_the_generated_secret_is_the_one_every_workload_references(objects):
    """minikube generates it with the overlay (a hashed name, so a change rolls the pods); production
    applies it apart under its plain name (deploy/k8s/production-secret.sh), which the overlay keeps."""
    for name, found in objects.items():
        secrets = [o["metadata"]["name"] for o in found if o["kind"] == "Secret"]
        if name == "minikube":
            assert len(secrets) == 1, secrets
            assert secrets[0].startswith("inference-api-secrets-"), secrets
            assert "'inference-api-secrets'" not in str(found), f"{name}: a reference missed the hashed name"
        else:
            assert set(secrets) == PRODUCTION_SECRETS, secrets
            references = {ref["name"] for ref in secret_references(found)}
            assert references == {"inference-api-secrets"}, f"{name}: {references}"


PRODUCTION_SECRETS = {
    "inference-api-secrets",
    "inference-db-owner",
    "inference-db-app",
    "rabbitmq-credentials",
    "inference-db-backup",
}


def secret_references(found: list[dict]) -> list[dict]:
    """Every secretRef and secretKeyRef in the objects."""
    refs: list[dict] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("secretRef", "secretKeyRef") and isinstance(value, dict):
                    refs.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(found)
    return refs


def test_every_built_in_object_passes_kubernetes_validate_strict(objects):
    errors = []
    for name, found in objects.items():
        for o in found:
            if o["kind"] in KEDA_KINDS | OPERATED:
                continue  # custom resources: tests/deploy/test_operators.py validates them
            try:
                kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{name} {o['kind']}/{o['metadata']['name']}: {e.message} at {list(e.path)}")
    assert not errors, "\n".join(errors)


def test_the_keda_objects_validate_against_the_keda_models(objects):
    from cloudcoil.models.keda import v1alpha1

    for o in (o for o in objects["keda"] if o["kind"] in KEDA_KINDS):
        model = getattr(v1alpha1, o["kind"]).model_validate(o)
        # The models ignore unknown fields: a round trip that drops one is a field KEDA does not know.
        dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert dumped == o, f"{o['kind']}: fields KEDA does not know:\n{dumped}\n!=\n{o}"
    scaled = find(objects["keda"], "ScaledObject", "worker")
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}
    # KEDA's CEL rules, which the schemas do not carry: min <= max, fallback needs AverageValue triggers.
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert all(t["metricType"] == "AverageValue" for t in scaled["spec"]["triggers"])
    # cooldownPeriod only acts when scaling to zero: with a minimum above 0 it would be a promise kept by nothing.
    assert "cooldownPeriod" not in scaled["spec"] or scaled["spec"]["minReplicaCount"] == 0


def test_the_keda_triggers_watch_the_queues_the_actors_consume(objects):
    from actors import inference, webhooks

    triggers = find(objects["keda"], "ScaledObject", "worker")["spec"]["triggers"]
    by_type = {t["type"]: t for t in triggers}
    assert set(by_type) == {"prometheus", "rabbitmq"}
    # Jobs waiting in the inference queue (messages times the mean group size), webhooks by messages.
    query = by_type["prometheus"]["metadata"]["query"]
    assert f'queue="{inference.QUEUE}"' in query and "inference_api_accept_group_size" in query
    assert by_type["rabbitmq"]["metadata"]["queueName"] == webhooks.QUEUE


def test_yaml_passes_yamllint_strict(rendered_dir):
    sources = [str(p) for p in K8S.rglob("*.yaml")] + [str(p) for p in (ROOT / ".github").rglob("*.yml")]
    result = run(tool("yamllint"), "-s", "-c", str(ROOT / ".yamllint.yaml"), *sources)
    assert result.returncode == 0, result.stdout + result.stderr
    # What kustomize writes is YAML too; its long base64 lines and style are kustomize's, not ours.
    rendered = run(tool("yamllint"), "-s", "-d", "{extends: relaxed, rules: {line-length: disable}}", str(rendered_dir))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr


@pytest.mark.parametrize("overlay", ["minikube", "production"])
def test_the_overlays_keep_their_differences(objects, overlay):
    found = objects[overlay]
    service = find(found, "Service", "api")
    api = find(found, "Deployment", "api")
    hpa = find(found, "HorizontalPodAutoscaler", "api")
    assert "replicas" not in api["spec"], "the HPA owns the API's replica count"
    if overlay == "minikube":
        assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30080
        assert hpa["spec"]["minReplicas"] == 1
        assert all(c["image"].endswith(":dev") for c in api["spec"]["template"]["spec"]["containers"])
    else:
        assert service["spec"]["type"] == "ClusterIP"
        assert hpa["spec"]["minReplicas"] >= 3 and find(found, "Deployment", "worker")["spec"]["replicas"] >= 2
        claim = find(found, "PersistentVolumeClaim", "models")
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "workers on several nodes share the models"


def quantity(value: str | int, unit: str) -> float:
    """A CPU quantity in millicores or a memory quantity in MiB."""
    text = str(value)
    if unit == "cpu":
        return float(text[:-1]) if text.endswith("m") else float(text) * 1000
    factors = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    suffix = text[-2:]
    return float(text[:-2]) * factors[suffix] if suffix in factors else float(text) / 2**20


def test_the_minikube_overlay_fits_a_small_laptop(objects):
    """Minikube's default node: 2 CPUs, of which Kubernetes' own pods (API server, etcd, scheduler,
    controller manager, CoreDNS, metrics-server, Calico) request about 1. What runs at once: the
    long-running pods, a sweeper run, and the bigger of the two Jobs (they run before the workers)."""
    found = objects["minikube"]

    def requests(kind: str, name: str, unit: str) -> float:
        o = find(found, kind, name)
        spec = o["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else o["spec"]
        hpa = [
            h for h in found if h["kind"] == "HorizontalPodAutoscaler" and h["spec"]["scaleTargetRef"]["name"] == name
        ]
        replicas = hpa[0]["spec"]["minReplicas"] if hpa else o["spec"].get("replicas", 1)
        return replicas * sum(
            quantity(c["resources"]["requests"][unit], unit) for c in spec["template"]["spec"]["containers"]
        )

    for unit, budget in (("cpu", 900), ("memory", 4096)):
        running = sum(
            requests(kind, name, unit)
            for kind, name in [("Deployment", "api"), ("Deployment", "worker"), ("StatefulSet", "postgres"),
                               ("StatefulSet", "rabbitmq"), ("Deployment", "sweeper")]
        )  # fmt: skip
        jobs = max(requests("Job", "migrate", unit), requests("Job", "prepare-models", unit))
        assert running + jobs <= budget, f"{unit}: {running} + {jobs} requested, {budget} available"
