"""The dependency rules of DESIGN.md, enforced: what each process imports (read from `sys.modules` of a real
child process) and which package may import which (read from the source with `ast`)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"torch", "transformers", "optimum", "sentence_transformers"}
ML_RUNTIME = {"onnxruntime", "numpy", "tokenizers"}
PACKAGES = ("core", "db", "catalog", "actors", "web", "inference_api")
# the broker (actors.rabbitmq.consumer holds its class: the consumer only runs in workers), the actors'
# declarations (inference, webhooks: what a message carries), and sending
SENDING_SIDE = {
    "actors", "actors.sending", "actors.broker", "actors.rabbitmq", "actors.rabbitmq.broker",
    "actors.rabbitmq.consumer", "actors.rabbitmq.publisher", "actors.rabbitmq.queues", "actors.inference",
    "actors.webhooks", "actors.hints",
}  # fmt: skip

# package -> the packages of ours it may import (arrows only downward; DESIGN.md's diagram)
ALLOWED = {
    "core": set(),
    "db": {"core"},
    "catalog": {"core"},
    "actors": {"core", "db", "catalog"},
    "web": {"core", "db", "catalog", "actors"},
    "inference_api": {"core", "db", "catalog", "actors", "web", "inference_client"},
    "client/inference_client": set(),  # the Python client installs and runs without any of the server
    "harness": set(),
    "bench": {"core", "db", "catalog", "actors", "web", "harness"},
}


def imported_modules(code: str, env: dict[str, str]) -> set[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=os.environ | env, capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_the_api_process_imports_no_ml_runtime_and_only_the_sending_side_of_actors(tmp_path):
    modules = imported_modules(
        "from core.config import Config\nfrom inference_api import serve\n"
        "app, embedded = serve.build_app(Config.from_env())\nassert embedded is None",
        {"DATA_DIR": str(tmp_path), "BROKER_URL": "amqp://guest:guest@127.0.0.1:1/"},
    )
    assert "web.app" in modules
    assert not roots(modules) & (HEAVY | ML_RUNTIME)
    assert {m for m in modules if m.split(".")[0] == "actors"} <= SENDING_SIDE


def test_the_api_process_reads_no_model_files_and_leaves_token_counts_to_the_worker(tmp_path, models_dir):
    """With its models at hand (MODELS_DIR set) the API still loads no tokenizer: `truncate: false` is the
    worker's check (it fails the job with the reason); only the embedded mode counts tokens at once."""
    modules = imported_modules(
        "from falcon.testing import TestClient\nfrom core.config import Config\nfrom inference_api import serve\n"
        "import db\nfrom db import migrate\napp, _ = serve.build_app(Config.from_env())\nmigrate.apply()\n"
        "client = TestClient(app)\n"
        "client.simulate_post('/inference', json={'inputs': 'x ' * 400, 'parameters': {'truncate': False}})\n"
        "client.simulate_get('/models')",
        {"DATA_DIR": str(tmp_path), "BROKER_URL": "amqp://guest:guest@127.0.0.1:1/", "MODELS_DIR": str(models_dir)},
    )
    assert "web.resources.models" in modules
    assert not roots(modules) & (HEAVY | ML_RUNTIME)


def test_the_sweeper_process_imports_no_ml_runtime(tmp_path):
    modules = imported_modules(
        "import actors.sweeper, actors.sending\nfrom inference_api import cli", {"DATA_DIR": str(tmp_path)}
    )
    assert not roots(modules) & (HEAVY | ML_RUNTIME)


@pytest.mark.slow
def test_the_worker_runtime_runs_a_model_without_torch_or_transformers(tmp_path, models_dir):
    modules = imported_modules(
        "import actors.worker as w\nprint(w.runtimes.get('all-MiniLM-L6-v2')(['hello'])[0]['tokens'])",
        {"DATA_DIR": str(tmp_path), "MODELS_DIR": str(models_dir), "BROKER_URL": "stub://"},
    )
    assert "onnxruntime" in modules and "tokenizers" in modules
    assert not roots(modules) & HEAVY
    assert "web" not in roots(modules)


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
    assert not roots(modules) & HEAVY


def test_the_worker_entry_alone_replaces_dramatiqs_global_broker(tmp_path):
    modules = imported_modules(
        "import dramatiq\nfrom dramatiq.brokers.stub import StubBroker\nsentinel = StubBroker()\n"
        "dramatiq.set_broker(sentinel)\n"
        "from core.config import Config\nfrom inference_api import serve\nfrom actors.setup import worker_sender\n"
        "from actors.registry import Runtimes\nfrom catalog import Catalog\n"
        "serve.build_app(Config.from_env())\n"
        "worker_sender('stub://', Runtimes(Catalog.load(), 'nowhere'))\n"
        "assert dramatiq.get_broker() is sentinel, 'something replaced the global broker'\n"
        "import actors.worker\nassert dramatiq.get_broker() is actors.worker.broker",
        {"DATA_DIR": str(tmp_path), "BROKER_URL": "amqp://guest:guest@127.0.0.1:1/", "PRELOAD_MODELS": "none"},
    )
    assert "actors.worker" in modules


def imports(path: Path) -> set[str]:
    """The absolute modules a file imports (relative imports are not used in this project)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_imports(package: str) -> dict[Path, set[str]]:
    """Every file of a package (a folder under the checkout) and what it imports."""
    return {path: imports(path) for path in (ROOT / package).rglob("*.py")}


OURS = {*(name.split("/")[-1] for name in ALLOWED), "tests"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package):
    for path, modules in package_imports(package).items():
        wrong = {m for m in modules if m.split(".")[0] in OURS - ALLOWED[package] - {package.split("/")[-1]}}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_nothing_imports_the_composition_roots_but_themselves_and_their_tests():
    for package in ALLOWED.keys() - {"inference_api"}:
        for path, modules in package_imports(package).items():
            assert not {m for m in modules if m.startswith("inference_api")}, path


def test_web_uses_only_the_sending_side_of_actors():
    for path, modules in package_imports("web").items():
        used = {".".join(m.split(".")[:2]) for m in modules if m.startswith("actors")}
        assert used <= SENDING_SIDE, f"{path.relative_to(ROOT)} imports {sorted(used - SENDING_SIDE)}"


def test_the_light_layers_import_no_ml_library_at_module_level():
    for package in ("core", "db", "catalog", "web"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            top = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
            top |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
            assert not roots(top) & (HEAVY | ML_RUNTIME), path


def test_tests_import_bench_only_to_test_it_and_bench_never_imports_tests():
    for path in (ROOT / "tests").rglob("*.py"):
        if "bench" in path.relative_to(ROOT / "tests").parts:
            continue
        assert "bench" not in roots(imports(path)), path.relative_to(ROOT)
    for path, modules in package_imports("bench").items():
        assert "tests" not in roots(modules), path.relative_to(ROOT)


def test_the_base_install_carries_no_ml_runtime_and_extras_mirror_the_processes():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    base = setup["options"]["install_requires"]
    extras = setup["options.extras_require"]
    assert not {name for name in ML_RUNTIME | HEAVY if name in base}
    assert all(name in extras["worker"] for name in ML_RUNTIME)
    assert "torch" not in extras["worker"] and "torch" in extras["export"]
