"""Rollouts a cluster orders by itself, on every apply: pods wait in init containers for this release's
schema (and workers for their models), Jobs are one per release (a second apply with a new tag creates
new Jobs instead of failing on immutable ones), the API drains as long as it lets a request wait, and
deploy/k8s/up.sh applies every object of whichever overlay it is given, at IMAGE_TAG."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.helpers import K8S, ROOT, find, release_of, run, tool
from tests.deploy.test_wiring import environment

WAITING = {"api": ["wait-for-schema"], "worker": ["wait-for-schema", "wait-for-models"], "sweeper": ["wait-for-schema"]}


def newest_migration() -> str:
    return sorted(p.stem for p in (ROOT / "db" / "migrations").glob("[0-9]*.py"))[-1]


@pytest.mark.parametrize("overlay", ["minikube", "production", "keda"])
def test_every_deployment_waits_for_what_it_needs(objects, overlay):
    found = objects[overlay]
    for o in (o for o in found if o["kind"] == "Deployment"):
        spec = o["spec"]["template"]["spec"]
        names = [c["name"] for c in spec.get("initContainers", [])]
        assert names == WAITING[o["metadata"]["name"]], f"{o['metadata']['name']}: {names}"
        for init in spec["initContainers"]:
            env = environment(init, found)
            assert "DATABASE_URL" in env and "psql" in init["command"][2]
            if init["name"] == "wait-for-schema":
                assert env_value(found, init, "SCHEMA_VERSION") == newest_migration(), (
                    "release.env: the newest migration"
                )
    prepare = find(found, "Job", "prepare-models")["spec"]["template"]["spec"]
    assert [c["name"] for c in prepare["initContainers"]] == ["wait-for-schema"], (
        "the model table comes with the schema"
    )


def env_value(found: list[dict], container: dict, name: str) -> str:
    ref = next(e["valueFrom"]["configMapKeyRef"] for e in container["env"] if e["name"] == name)
    return find(found, "ConfigMap", ref["name"])["data"][ref["key"]]


@pytest.mark.parametrize("overlay", ["minikube", "production", "keda"])
def test_each_release_has_its_own_jobs_named_after_the_images_tag(objects, overlay):
    found = objects[overlay]
    for base, image in (("migrate", "inference-api-api"), ("prepare-models", "inference-api-prepare")):
        job = find(found, "Job", base)
        release = release_of(job["metadata"]["name"], base)
        containers = job["spec"]["template"]["spec"]["containers"]
        tag = next(c["image"] for c in containers if image in c["image"]).split("@")[0].rsplit(":", 1)[1]
        assert release == tag, f"{job['metadata']['name']}: the Job of release {tag} is {base}-{tag}"
        assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_the_api_drains_as_long_as_a_request_may_wait(objects):
    from web.waiting import MAX_WAIT

    for found in objects.values():
        pod = find(found, "Deployment", "api")["spec"]["template"]["spec"]
        api = pod["containers"][0]
        drain = int(environment(api, found)["DRAIN_SECONDS"])
        pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert drain >= MAX_WAIT + 5, f"DRAIN_SECONDS {drain}: a `Prefer: wait={MAX_WAIT}` request is cut"
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 5


def test_the_wait_scripts_wait_then_pass_on_a_real_database(objects, tmp_path):
    """Each init container's own command, run against PostgreSQL: it waits while the schema or the model
    rows are missing, and exits 0 once they are there."""
    from tests.servers import postgres_url

    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    url = postgres_url("inference_api_deploy_wait")
    found = objects["minikube"]
    worker = find(found, "Deployment", "worker")["spec"]["template"]["spec"]["initContainers"]
    env = {
        "DATABASE_URL": url,
        "SCHEMA_VERSION": newest_migration(),
        "PRELOAD_MODELS": environment(
            find(found, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0], found
        )["PRELOAD_MODELS"],
        "PGCONNECT_TIMEOUT": "5",
    }

    def sql(statement: str) -> None:
        subprocess.run(["psql", url, "-Xqc", statement], check=True, capture_output=True)

    def waits(container: dict) -> bool:
        try:
            subprocess.run(container["command"], env={**os.environ, **env}, timeout=4, capture_output=True, check=True)
        except subprocess.TimeoutExpired:
            return True
        return False

    sql("DROP TABLE IF EXISTS migratehistory, model")
    assert all(waits(c) for c in worker), "no tables yet: both wait"
    sql("CREATE TABLE migratehistory (name text); CREATE TABLE model (name text)")
    sql(f"INSERT INTO migratehistory VALUES ('{newest_migration()}')")
    assert not waits(worker[0]) and waits(worker[1]), "the schema is there, the models are not"
    sql("INSERT INTO model SELECT unnest(string_to_array('" + env["PRELOAD_MODELS"] + "', ','))")
    assert not waits(worker[1])
    sql("DROP TABLE migratehistory, model")


FAKE_KUBECTL = """#!/bin/sh
# kubectl for up.sh's test: `kustomize` is the real one; `apply -f F` keeps F; `get -f F -o name` lists it.
echo "kubectl $*" >> "$UP_LOG/calls"
case "$1" in
  kustomize) exec "$REAL_KUBECTL" "$@" ;;
  apply) cp "$3" "$UP_LOG/applied.yaml" ;;
  get) [ "$2" = -f ] && "$PYTHON" -c 'import sys, yaml
kinds = {"Job": "job.batch", "Deployment": "deployment.apps"}
for o in yaml.safe_load_all(open(sys.argv[1])):
    print(kinds.get(o["kind"], o["kind"].lower()) + "/" + o["metadata"]["name"]) if o else None' "$3" ;;
esac
exit 0
"""


@pytest.mark.parametrize(
    ("overlay", "tag"), [("minikube", None), ("minikube", "t2"), ("production", "9.8.7"), ("production-keda", None)]
)
def test_up_applies_every_object_of_any_overlay_at_image_tag_and_waits_for_jobs_and_rollouts(
    overlay, tag, tmp_path, monkeypatch
):
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "minikube").write_text('#!/bin/sh\necho "minikube $*" >> "$UP_LOG/calls"\necho http://192.0.2.1:30080\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.defpath}",  # our kubectl and minikube, then the system's tools
        "UP_LOG": str(tmp_path),
        "REAL_KUBECTL": tool("kubectl"),
        "PYTHON": sys.executable,
        **({"IMAGE_TAG": tag} if tag else {}),
    }
    monkeypatch.delenv("IMAGE_TAG", raising=False)
    result = run(str(K8S / "up.sh"), str(K8S / "overlays" / overlay), env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    applied = [o for o in yaml.safe_load_all((tmp_path / "applied.yaml").read_text()) if o]
    plain = [
        o for o in yaml.safe_load_all(run(tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)).stdout) if o
    ]
    release = tag or ("dev" if overlay == "minikube" else "0.1.0")
    renamed = {f"migrate-{release}", f"prepare-models-{release}"}
    assert {(o["kind"], o["metadata"]["name"]) for o in plain if o["kind"] != "Job"} == {
        (o["kind"], o["metadata"]["name"]) for o in applied if o["kind"] != "Job"
    }, "every object of the overlay, and nothing else"
    assert {o["metadata"]["name"] for o in applied if o["kind"] == "Job"} == renamed
    ours = [
        c["image"]
        for o in applied
        if o["kind"] in ("Deployment", "Job")
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    assert ours and all(image.endswith(f":{release}") for image in ours), ours
    calls = (tmp_path / "calls").read_text()
    for job in sorted(renamed):
        assert f"wait --for=condition=complete job.batch/{job}" in calls
    for name in ("api", "worker", "sweeper"):
        assert f"rollout status deployment.apps/{name}" in calls
    assert ("minikube image build" in calls) == (overlay == "minikube")
    assert not list(K8S.glob(".up.*")), "up.sh leaves no rendering behind"
