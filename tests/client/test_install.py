"""The client is its own distribution: it installs into a fresh venv without the server's dependencies."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"
SERVER_ONLY = {"falcon", "dramatiq", "onnxruntime", "waitress", "peewee", "pika", "numpy", "torch"}


@pytest.mark.slow
def test_the_client_installs_into_a_fresh_venv_without_falcon_dramatiq_or_onnxruntime(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(CLIENT)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"inference-api-client", "httpx", "tqdm"} <= names
    assert not names & SERVER_ONLY
    usage = subprocess.run([python, "-m", "inference_client", "submit", "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "INFERENCE_API_KEY" in usage.stdout
    imported = subprocess.run(
        [python, "-c", "import inference_client; print(inference_client.Client.__name__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository: the installed package, not the source tree
    )
    assert imported.stdout.strip() == "Client", imported.stderr
