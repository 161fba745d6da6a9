"""Every overlay rendered once per session (helpers.py has the paths and the tools).

The production overlay generates its Secret from an ignored `.env`, which a fresh clone lacks: it is
rendered (with production-keda, built on it) from a copy of deploy/k8s with `.env.example` as its `.env`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.helpers import K8S, kustomize


@pytest.fixture(scope="session")
def overlays(tmp_path_factory) -> dict[str, Path]:
    """Each overlay's directory: minikube in place, the two production ones in a copy."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns(".env"))
    shutil.copy(K8S / ".env.example", copy / "overlays" / "production" / ".env")
    found = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    assert found == ["minikube", "production", "production-keda"], f"a new overlay? render it here: {found}"
    return {
        "minikube": K8S / "overlays" / "minikube",
        "production": copy / "overlays" / "production",
        "keda": copy / "overlays" / "production-keda",
    }


@pytest.fixture(scope="session")
def rendered(overlays) -> dict[str, str]:
    """Each overlay rendered by `kubectl kustomize`, as YAML text."""
    return {name: kustomize(path) for name, path in overlays.items()}


@pytest.fixture(scope="session")
def objects(rendered) -> dict[str, list[dict]]:
    return {name: [o for o in yaml.safe_load_all(text) if o] for name, text in rendered.items()}


@pytest.fixture(scope="session")
def rendered_dir(rendered, tmp_path_factory) -> Path:
    """The renderings written one file an overlay, for the tools that read files."""
    directory = tmp_path_factory.mktemp("rendered")
    for name, text in rendered.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory
