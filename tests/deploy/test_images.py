"""The Dockerfiles: hadolint-clean, multi-stage, non-root, pinned, and each installs only its own extra."""

from __future__ import annotations

import configparser
import re

import pytest

from tests.deploy.helpers import DOCKERFILES, ROOT, find, run, tool

IMAGES = {  # Dockerfile -> what `pip install` gets, and what must never be in it
    "Dockerfile.api": ("/src", ("torch", "onnxruntime", "transformers", "[worker]", "[export]")),
    "Dockerfile.worker": ("/src[worker]", ("torch", "transformers", "[export]")),
    "Dockerfile.prepare": ("/src[export]", ()),
}


def instructions(path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_three_images_exist():
    assert sorted(p.name for p in DOCKERFILES) == sorted(IMAGES)


def test_dockerfiles_pass_hadolint():
    result = run(tool("hadolint"), *map(str, DOCKERFILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_each_image_is_multi_stage_non_root_and_pinned(name):
    steps = instructions(ROOT / name)
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert len(bases) >= 2, "multi-stage: the build tools stay out of the final image"
    for base in bases:
        _, _, tag = base.partition(":")
        assert tag and tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"{base}: pin the base image's version"
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 10000
    assert not any(op == "RUN" and "pip install" in args for op, args in final), "installs belong to the build stage"


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_each_image_installs_only_its_extra(name):
    target, forbidden = IMAGES[name]
    installs = [args for op, args in instructions(ROOT / name) if op == "RUN" and "pip install" in args]
    project = [args for args in installs if "/src" in args]
    assert len(project) == 1 and re.search(rf'"?{re.escape(target)}"?(\s|$)', project[0]), project
    for args in installs:
        for word in forbidden:
            assert word not in args, f"{name} installs {word}"
    if name == "Dockerfile.prepare":
        locked = [args for args in installs if "requirements/export.txt" in args]
        assert locked and "download.pytorch.org/whl/cpu" in locked[0], "CPU torch, from its index"
        assert re.search(r"^torch==2\.13\.0\+cpu ", lock_text("export"), re.M), "CPU torch, pinned in the lock"


LOCKS = {"Dockerfile.api": "api", "Dockerfile.worker": "worker", "Dockerfile.prepare": "export"}


def lock_text(name: str) -> str:
    return (ROOT / "requirements" / f"{name}.txt").read_text()


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_each_image_installs_its_lock_with_hashes_before_the_source_is_copied(name):
    steps = instructions(ROOT / name)
    build = steps[: max(i for i, (op, _) in enumerate(steps) if op == "FROM")]
    source = next(i for i, (op, args) in enumerate(build) if op == "COPY" and args.split()[0] == ".")
    lock = f"requirements/{LOCKS[name]}.txt"
    installs = [i for i, (op, args) in enumerate(build) if op == "RUN" and lock.split("/")[1] in args]
    assert installs and installs[0] < source, f"{name}: the locked dependencies go in a layer before the source"
    assert all("--require-hashes" in build[i][1] for i in installs)
    project = [args for op, args in build[source:] if op == "RUN" and "pip install" in args]
    assert project and all("--no-deps" in args and "--no-build-isolation" in args for args in project)


@pytest.mark.parametrize("lock", ["api", "worker", "export", "build"])
def test_every_lock_pins_every_package_with_hashes(lock):
    text = lock_text(lock)
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M)
    assert pins, lock
    blocks = re.split(r"^(?=[A-Za-z0-9_.-]+==)", text, flags=re.M)[1:]
    assert all("--hash=sha256:" in block for block in blocks), f"{lock}: a pin without its hash"
    names = {n.lower().replace("_", "-") for n, _ in pins}
    if lock != "build":
        parser = configparser.ConfigParser()
        parser.read(ROOT / "setup.cfg")
        wanted = parser["options"]["install_requires"].split("\n")
        wanted += parser["options.extras_require"].get(lock, "").split("\n") if lock != "api" else []
        for requirement in filter(None, (w.strip() for w in wanted)):
            package = re.split(r"[<>=~\[; ]", requirement)[0].lower().replace("_", "-")
            assert package == "inference-api" or package in names, f"{lock}.txt lacks {package}: pip-compile again"
    if lock in ("api", "worker"):
        assert not {"torch", "transformers"} & names, f"{lock}: no torch, no transformers"


def test_the_extras_the_images_install_keep_torch_out_of_the_worker():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    extras = parser["options.extras_require"]
    base = parser["options"]["install_requires"]
    assert "torch" not in base and "transformers" not in base
    assert "export" in extras and "torch" in extras["export"]
    assert "onnxruntime" in extras["worker"] and "torch" not in extras["worker"]
    assert "onnxruntime" not in base


def test_each_workload_runs_the_image_that_has_what_it_needs(objects):
    found = objects["minikube"]

    def image(kind, name):
        o = find(found, kind, name)
        spec = o["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else o["spec"]
        return spec["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[0]

    assert image("Deployment", "api") == "inference-api-api"
    assert image("Job", "migrate") == "inference-api-api"
    assert image("Deployment", "sweeper") == "inference-api-api"
    assert image("CronJob", "purge") == "inference-api-api"
    assert image("Deployment", "worker") == "inference-api-worker"
    assert image("Job", "prepare-models") == "inference-api-prepare"


def test_the_build_context_leaves_out_what_the_images_do_not_need():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests", "deploy", ".env"} <= set(ignored)
