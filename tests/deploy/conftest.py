"""Every overlay rendered once per session (helpers.py has the paths and the tools).

The production overlays render as cloned; their Secrets are applied apart (deploy/k8s/production-secret.sh,
from an ignored `.env`), printed here from `.env.example` and added to each production rendering: what
is applied to a production cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.helpers import K8S, kustomize, run


@pytest.fixture(scope="session")
def overlays() -> dict[str, Path]:
    """Each overlay's directory, in place."""
    found = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    assert found == ["minikube", "production", "production-keda"], f"a new overlay? render it here: {found}"
    return {
        "minikube": K8S / "overlays" / "minikube",
        "production": K8S / "overlays" / "production",
        "keda": K8S / "overlays" / "production-keda",
    }


@pytest.fixture(scope="session")
def production_secret() -> str:
    """The Secrets deploy/k8s/production-secret.sh makes, from the template."""
    result = run(str(K8S / "production-secret.sh"), "--print", str(K8S / ".env.example"))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def rendered(overlays, production_secret) -> dict[str, str]:
    """Each overlay rendered by `kubectl kustomize`, as YAML text; the production ones with their Secret."""
    texts = {name: kustomize(path) for name, path in overlays.items()}
    return {name: f"{text}---\n{production_secret}" if name != "minikube" else text for name, text in texts.items()}


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
