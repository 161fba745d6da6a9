"""The promises of DESIGN.md about what each process imports, and the direction of dependencies."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "optimum", "sentence_transformers")


def imported_modules(code: str, env: dict[str, str]) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=os.environ | env, capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_api_process_imports_no_ml_library(tmp_path):
    modules = imported_modules(
        "from core.config import Config\nimport db\nfrom web import create_app\n"
        "db.connect(Config.from_env().database)\ncreate_app(Config.from_env())",
        {"DATA_DIR": str(tmp_path)},
    )
    assert "web" in modules
    assert not [m for m in modules if m.split(".")[0] in (*HEAVY, "onnxruntime")]


@pytest.mark.slow
def test_the_worker_runtime_runs_a_model_without_torch_or_transformers(tmp_path, models_dir):
    modules = imported_modules(
        "import actors.worker as w\nprint(w.runtimes.get('all-MiniLM-L6-v2')(['hello'])[0]['tokens'])",
        {"DATA_DIR": str(tmp_path), "MODELS_DIR": str(models_dir), "BROKER_URL": "stub://"},
    )
    assert "onnxruntime" in modules and "tokenizers" in modules
    assert not [m for m in modules if m.split(".")[0] in HEAVY]


@pytest.mark.slow
def test_generation_and_classification_run_without_torch_or_transformers(tmp_path, tiny):
    _, catalog_path, models, _ = tiny
    modules = imported_modules(
        "import actors.worker as w\n"
        "print(w.runtimes.get('tiny-gpt2')(['hello'], max_new_tokens=3))\n"
        "print(w.runtimes.get('tiny-bert-classifier')(['good']))",
        {"DATA_DIR": str(tmp_path), "MODELS_DIR": str(models), "INFERENCE_CATALOG": str(catalog_path)},
    )
    assert "onnxruntime" in modules
    assert not [m for m in modules if m.split(".")[0] in HEAVY]


def imports_of(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_dependencies_point_one_way_web_actors_db():
    assert not imports_of("db") & {"actors", "web"}
    assert "web" not in imports_of("actors")
