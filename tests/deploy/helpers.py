"""Paths, tools and small readers shared by the deploy tests (the fixtures are in conftest.py).

A tool that is absent skips its test locally and fails it under CI=true (like tests/servers.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import IN_CI

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILES = sorted(ROOT.glob("Dockerfile.*"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """The path of a command-line tool: beside this Python (the venv), in .venv/checkov, or on PATH."""
    candidates = [Path(sys.executable).parent / name, ROOT / ".venv" / "checkov" / "bin" / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    if found := shutil.which(name):
        return found
    message = f"{name} is not installed (make test installs it)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: the deploy checks must run, not skip")
    pytest.skip(message)


def run(*args: str, cwd: Path = ROOT, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env} if env else None
    return subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False)


def kustomize(directory: Path) -> str:
    result = run(tool("kubectl"), "kustomize", str(directory))
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    """(kind/name, pod spec) of every workload."""
    found = []
    for o in objects:
        spec = o.get("spec", {})
        if o["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if o["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            found.append((f"{o['kind']}/{o['metadata']['name']}", spec["template"]["spec"]))
    return found


def find(objects: list[dict], kind: str, name: str) -> dict:
    """The one object of that kind and name; a Job by its name before the release suffix (migrate-<release>)."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if kind == "Job" and not matches:
        matches = [o for o in objects if o["kind"] == kind and release_of(o["metadata"]["name"], name) is not None]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


def release_of(job_name: str, base: str) -> str | None:
    """The release a Job's name carries (`migrate-1.2.0` -> `1.2.0`), None when it is another Job's name."""
    prefix = f"{base}-"
    rest = job_name[len(prefix) :] if job_name.startswith(prefix) else ""
    return rest if rest and not rest.startswith("models") else None
