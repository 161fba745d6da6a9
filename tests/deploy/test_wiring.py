"""The manifests match the code: environment variables, ports, probe paths, commands, the models volume."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from tests.deploy.helpers import K8S, ROOT, find, run
from tests.deploy.unset import NOT_SET_IN_KUBERNETES

# Environment variables the code reads that Kubernetes deliberately leaves unset (the code's default
# is what a cluster wants), and why. Everything else the config module reads must be set.
# Per container, what it has no use for.
NO_WEBHOOKS = {"WEBHOOK_SECRET": "only the API (the webhook secret route) and the workers (signing) need it"}
NO_API = {"API_KEYS": "no HTTP", "METRICS_PORT": "the API's metrics port (its own Deployment sets it)"}
UNUSED = {
    "worker": {**NO_API, "API_KEYS": "the worker serves no HTTP"},
    "migrate": {"BROKER_URL": "migrations touch the database only", **NO_API, **NO_WEBHOOKS},
    "prepare": {"BROKER_URL": "preparation touches the database and the volume", **NO_API, **NO_WEBHOOKS},
    "sweeper": {**NO_API, **NO_WEBHOOKS},
    "purge": {"BROKER_URL": "the purge touches the database only", **NO_API, **NO_WEBHOOKS},
}


def packages() -> list[Path]:
    return [p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "bench")]


def variables_the_code_reads() -> set[str]:
    """Every variable `Config.from_env` reads: the settings table the configuration page comes from."""
    from core.config import settings

    names = {name for _field, setting, _default in settings() for name in setting.env}
    assert {"DATABASE_URL", "BROKER_URL", "PORT"} <= names, f"the settings miss the basics: {sorted(names)}"
    return names


def config_module():
    """The config module, wherever the refactor puts it (a top-level package's config.py)."""
    path = next(p for package in packages() for p in package.glob("config.py"))
    return importlib.import_module(f"{path.parent.name}.config")


def routes_in_the_code() -> set[str]:
    routes = set()
    for package in packages():
        for f in package.rglob("*.py"):
            routes |= set(re.findall(r"""add_route\(\s*["']([^"']+)["']""", f.read_text()))
    return routes


def environment(container: dict, found: list[dict]) -> dict[str, str | None]:
    """Every variable the container gets: its own env, then each envFrom ConfigMap's or Secret's keys."""
    names: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
        )
        names.update(find(found, kind, ref["name"]).get("data", {}))
    for e in container.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"].get("secretKeyRef") or e["valueFrom"].get("configMapKeyRef")
            kind = "Secret" if "secretKeyRef" in e["valueFrom"] else "ConfigMap"
            assert ref["key"] in find(found, kind, ref["name"]).get("data", {}), f"{e['name']}: no key {ref['key']}"
            names[e["name"]] = None
        else:
            names[e["name"]] = e.get("value")
    return names


def container(found: list[dict], kind: str, name: str) -> dict:
    o = find(found, kind, name)
    spec = o["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else o["spec"]
    return spec["template"]["spec"]["containers"][0]


APP_CONTAINERS = {
    "api": ("Deployment", "api"),
    "worker": ("Deployment", "worker"),
    "sweeper": ("Deployment", "sweeper"),
    "purge": ("CronJob", "purge"),
    "migrate": ("Job", "migrate"),
    "prepare": ("Job", "prepare-models"),
}


@pytest.mark.parametrize("overlay", ["minikube", "production"])
def test_every_environment_variable_the_code_reads_is_set_by_a_config_map_or_secret(objects, overlay):
    found = objects[overlay]
    wanted = variables_the_code_reads() - set(NOT_SET_IN_KUBERNETES)
    for component, (kind, name) in APP_CONTAINERS.items():
        missing = wanted - set(environment(container(found, kind, name), found)) - set(UNUSED.get(component, {}))
        assert not missing, f"{component} lacks {sorted(missing)}: set them in config.env or the Secret"


def test_the_allow_list_names_only_variables_the_code_still_reads():
    stale = set(NOT_SET_IN_KUBERNETES) - variables_the_code_reads()
    assert not stale, f"remove from NOT_SET_IN_KUBERNETES: {stale}"


def test_the_api_port_and_probe_paths_match_the_code(objects):
    config = config_module()
    for found in objects.values():
        api = container(found, "Deployment", "api")
        env = environment(api, found)
        port = int(env.get("PORT") or config.Config().port)
        ports = {p["name"]: p["containerPort"] for p in api["ports"]}
        assert ports == {"http": port, "metrics": int(env["METRICS_PORT"])}  # tests/deploy/test_metrics_port.py
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert api[probe]["httpGet"]["port"] in ("http", port), probe
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"/healthz", "/readyz"} <= routes_in_the_code()
        service = find(found, "Service", "api")
        assert service["spec"]["ports"][0]["targetPort"] in ("http", port)
        assert api["command"][:2] == ["inference-api", "serve"] and "0.0.0.0" in api["command"]


def test_the_api_metrics_path_the_monitor_scrapes_is_a_route_in_the_code(objects):
    monitor = find(objects["production"], "PodMonitor", "inference-api")
    assert {endpoint["path"] for endpoint in monitor["spec"]["podMetricsEndpoints"]} <= routes_in_the_code()


def test_the_worker_runs_the_dramatiq_cli_with_processes_and_threads_from_config(objects):
    for found in objects.values():
        worker = container(found, "Deployment", "worker")
        env = environment(worker, found)
        command = worker["command"]
        assert command[:2] == ["dramatiq", "actors.worker"]
        assert importlib.util.find_spec("actors.worker") is not None
        options = dict(zip(command[2::2], command[3::2], strict=True))
        assert options["--processes"] == "$(WORKER_PROCESSES)" and options["--threads"] == "$(WORKER_THREADS)"
        processes = int(env["WORKER_PROCESSES"])
        procfile = re.search(r"--threads (\d+)", (ROOT / "Procfile").read_text()).group(1)
        assert env["WORKER_THREADS"] == procfile and int(env["ORT_THREADS"]) == 1  # as the Procfile runs them
        limit = worker["resources"]["limits"]["cpu"]
        assert processes == int(limit), f"--processes {processes} should be the pod's cores ({limit})"
        pod = find(found, "Deployment", "worker")["spec"]["template"]["spec"]
        shutdown = int(options["--worker-shutdown-timeout"]) / 1000
        assert pod["terminationGracePeriodSeconds"] > shutdown + 5
        # Metrics: the port Dramatiq's Prometheus middleware listens on is the one exposed and scraped.
        assert [p["containerPort"] for p in worker["ports"]] == [int(env["dramatiq_prom_port"])]
        assert env["dramatiq_prom_db"].startswith("/tmp/") and env["WORKER_HEARTBEAT_DIR"].startswith("/tmp/")
        assert worker["livenessProbe"]["exec"]["command"] == ["inference-api", "worker-alive"]


def test_every_command_the_manifests_run_exists(objects):
    cli = str(Path(sys.executable).parent / "inference-api")
    commands = set()
    for o in objects["production"]:
        spec = o.get("spec", {})
        spec = spec.get("jobTemplate", {}).get("spec", spec)
        for c in spec.get("template", {}).get("spec", {}).get("containers", []):
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if "exec" in c.get(probe, {}):
                    commands.add(tuple(c[probe]["exec"]["command"]))
            commands.add(tuple(c.get("command", ())))
    # The sweeper runs `inference-api sweep` through the entry that serves its metrics (base/metrics/).
    entry = ("python", "/opt/inference-api/serve_metrics.py")
    commands = {("inference-api", *c[3:]) if c[:2] == entry else c for c in commands}
    ours = sorted(c for c in commands if c and c[0] == "inference-api")
    assert {c[1] for c in ours} >= {"serve", "migrate", "sweep", "models", "worker-alive"}
    for command in ours:
        words = [w for w in command[1:] if not w.startswith("-") and w not in ("0.0.0.0",)]
        words = words[:2] if words[0] == "models" else words[:1]
        result = run(cli, *words, "--help")
        assert result.returncode == 0, f"inference-api {' '.join(words)}: {result.stderr}"


def test_the_models_volume_is_written_by_the_job_read_by_workers_and_absent_from_the_api(objects):
    for found in objects.values():
        mounts = {
            component: {m["name"]: m for m in container(found, kind, name).get("volumeMounts", [])}
            for component, (kind, name) in APP_CONTAINERS.items()
        }
        models_dir = environment(container(found, "Deployment", "worker"), found)["MODELS_DIR"]
        assert "models" not in mounts["api"], "the API reads models from the database, not the volume"
        assert mounts["worker"]["models"]["readOnly"] is True and mounts["worker"]["models"]["mountPath"] == models_dir
        assert (
            not mounts["prepare"]["models"].get("readOnly") and mounts["prepare"]["models"]["mountPath"] == models_dir
        )


def test_the_secret_urls_agree_with_the_credentials_they_carry(overlays):
    from urllib.parse import urlparse

    hosts = {  # the database (through the pooler in production), the migrations' database, the broker nodes
        "minikube": ("postgres", "postgres", ["rabbitmq"]),
        "production": (
            f"inference-db-pooler-rw.{FQDN}",
            f"inference-db-rw.{FQDN}",
            [f"rabbitmq-server-{i}.rabbitmq-nodes.{FQDN}" for i in range(3)],
        ),
    }
    for name, (database_host, owner_host, broker_hosts) in hosts.items():
        values = env_values(overlays[name] / "minikube.env" if name == "minikube" else K8S / ".env.example")
        database, owner = urlparse(values["DATABASE_URL"]), urlparse(values["MIGRATE_DATABASE_URL"])
        assert (database.username, database.password) == (values["POSTGRES_USER"], values["POSTGRES_PASSWORD"])
        assert (database.hostname, database.port, database.path) == (database_host, 5432, f"/{values['POSTGRES_DB']}")
        owner_user = values.get("POSTGRES_OWNER", values["POSTGRES_USER"])
        owner_password = values.get("POSTGRES_OWNER_PASSWORD", values["POSTGRES_PASSWORD"])
        assert (owner.username, owner.password, owner.hostname) == (owner_user, owner_password, owner_host)
        brokers = [urlparse(url) for url in values["BROKER_URL"].split(";")]
        assert [b.hostname for b in brokers] == broker_hosts, "BROKER_URL names every RabbitMQ node"
        for broker in brokers:
            assert (broker.username, broker.password) == (values["RABBITMQ_USER"], values["RABBITMQ_PASSWORD"])
            assert (broker.port, broker.path) == (5672, "/inference")


def test_rabbitmq_definitions_give_the_broker_url_its_user_and_vhost(objects, tmp_path):
    """Run the init container's own command on the ConfigMap's template with the Secret's values."""
    import base64
    import json
    from urllib.parse import unquote, urlparse

    found = objects["minikube"]
    secret = {
        k: base64.b64decode(v).decode() for k, v in next(o for o in found if o["kind"] == "Secret")["data"].items()
    }
    init = find(found, "StatefulSet", "rabbitmq")["spec"]["template"]["spec"]["initContainers"][0]
    template = find(found, "ConfigMap", _volume_config_map(found, init["volumeMounts"][0]["name"]))
    config_map = find(found, "ConfigMap", _volume_config_map(found, "config"))
    assert init["volumeMounts"][0]["mountPath"] == "/config"
    (tmp_path / "config").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "config" / "definitions.json").write_text(template["data"]["definitions.json"])
    script = init["command"][2].replace("/config/", f"{tmp_path}/config/")
    script = script.replace("/etc/rabbitmq/definitions/", f"{tmp_path}/out/")
    env = {e["name"]: secret[e["valueFrom"]["secretKeyRef"]["key"]] for e in init["env"]}
    result = run(*init["command"][:2], script, env=env)
    assert result.returncode == 0, result.stderr
    definitions = json.loads((tmp_path / "out" / "definitions.json").read_text())
    broker = urlparse(secret["BROKER_URL"])
    user = {"name": broker.username, "password": broker.password, "tags": []}
    assert definitions["users"] == [user]
    vhost = unquote(broker.path[1:])
    assert {"name": vhost} in definitions["vhosts"]
    assert any(p["user"] == broker.username and p["vhost"] == vhost for p in definitions["permissions"])
    conf = config_map["data"]["rabbitmq.conf"]
    assert "definitions.local.path = /etc/rabbitmq/definitions/definitions.json" in conf
    assert (
        re.search(r"^consumer_timeout = \d+$", conf, re.M)
        and "rabbitmq_prometheus" in config_map["data"]["enabled_plugins"]
    )


FQDN = "inference-api.svc.cluster.local"


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def _volume_config_map(found: list[dict], volume: str) -> str:
    volumes = find(found, "StatefulSet", "rabbitmq")["spec"]["template"]["spec"]["volumes"]
    return next(v["configMap"]["name"] for v in volumes if v["name"] == volume)


def test_the_preparation_job_prepares_the_models_the_workers_preload(objects):
    """Names from the shipped catalog (wherever the package keeps catalog.toml), no hub needed."""
    import tomllib

    catalogs = list(ROOT.glob("*/catalog.toml"))
    assert len(catalogs) == 1, catalogs
    catalog = tomllib.loads(catalogs[0].read_text())
    sources = {m["name"]: m["source"] for m in catalog["models"]}
    for found in objects.values():
        command = container(found, "Job", "prepare-models")["command"]
        assert command[:3] == ["inference-api", "models", "prepare"]
        prepared = [w for w in command[3:] if not w.startswith("-")]
        assert prepared and set(prepared) <= set(sources), f"not in the catalog: {set(prepared) - set(sources)}"
        # The NetworkPolicies give the Job no way out: only models shipped in a package can be prepared.
        assert all(sources[name].startswith("package:") for name in prepared)
        env = environment(container(found, "Deployment", "worker"), found)
        assert env["DEFAULT_MODEL"] in prepared and set(env["PRELOAD_MODELS"].split(",")) <= set(prepared)
