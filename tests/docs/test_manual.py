"""The manual (docs/, mkdocs.yml) builds strictly, names every environment variable the code reads, and
every `docs/<page>.md#<anchor>` reference in the repository resolves; the README stays a front page."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "venv", "var", "node_modules", "build", "dist", ".tox", ".ruff_cache", ".pytest_cache"}
# Where product code lives: its environment variables belong on the configuration page. The tests' own
# variables belong on the development page.
TEST_DIRS = ("tests",)
NOT_PRODUCT = ("tests", "bench", "docs")
# `req.env` is a request's WSGI environ, not the process' environment.
ENV_READS = re.compile(
    r"""(?:environ\.get|getenv|environ\[|(?<!req\.)env\.get)\(?\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)
REFERENCE = re.compile(r"(?<![\w/.-])docs/([A-Za-z0-9_-]+)\.md(?:#([A-Za-z0-9_-]+))?")
ID = re.compile(r"""\sid="([^"]+)\"""")


def files(*patterns: str) -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and any(path.match(pattern) for pattern in patterns):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The manual built as `make test` builds it: `python -m mkdocs build --strict` from the repository root."""
    if subprocess.run([sys.executable, "-c", "import mkdocs, material"], capture_output=True).returncode:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs and mkdocs-material are not installed (the dev extra)")
        pytest.skip("mkdocs and mkdocs-material are not installed (the dev extra)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def page_html(site: Path, page: str) -> str:
    path = site / "index.html" if page == "index" else site / page / "index.html"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def test_the_manual_builds_strictly(site):
    assert (site / "configuration" / "index.html").is_file()


def variables_read(directories: tuple[str, ...] | None, *, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    found = {}
    for path in files("*.py"):
        top = path.relative_to(ROOT).parts[0]
        if (directories is not None and top not in directories) or top in exclude:
            continue
        for name in ENV_READS.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, path.relative_to(ROOT))
    return found


def test_the_configuration_page_names_every_variable_the_code_reads(site):
    from core.config import ELSEWHERE, settings

    wanted = {name: Path("core/config.py") for _, setting, _ in settings() for name in setting.env}
    wanted |= {variable.name: Path("core/config.py") for variable in ELSEWHERE}
    wanted |= variables_read(None, exclude=NOT_PRODUCT)
    assert {"MAX_BACKLOG", "MAX_JSON_DEPTH", "API_KEYS", "API_KEYS_FILE", "PROMETHEUS_MULTIPROC_DIR"} <= set(wanted)
    text = html.unescape(page_html(site, "configuration"))
    missing = {name: str(where) for name, where in wanted.items() if f"<code>{name}</code>" not in text}
    assert not missing, f"docs/configuration.md lacks these variables (read in): {missing}"


def test_the_development_page_names_every_variable_the_tests_read(site):
    """The tests' own variables (TEST_*, CI); the product's are on the configuration page."""
    text = html.unescape(page_html(site, "development"))
    product = html.unescape(page_html(site, "configuration"))
    tests_read = variables_read(TEST_DIRS).items()
    missing = {
        name: str(where) for name, where in tests_read if name not in text and f"<code>{name}</code>" not in product
    }
    assert not missing, f"docs/development.md lacks these test variables (read in): {missing}"


def test_secret_defaults_are_never_printed(monkeypatch):
    """A secret setting's row shows what its `shown` says, never the value, even a non-empty default."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("configuration_hook", ROOT / "docs/hooks/configuration.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    secrets = [(name, setting, "whsec_s3cr3t-default") for name, setting, _ in hook.settings() if setting.secret]
    monkeypatch.setattr(hook, "settings", lambda: secrets)
    rows = hook.settings_table().splitlines()[2:]
    assert len(rows) == 2  # API_KEYS (and API_KEYS_FILE), WEBHOOK_SECRET
    assert not any("s3cr3t" in row for row in rows)


def test_every_reference_to_the_manual_names_a_page_and_a_heading_that_exist(site):
    sources = files("*.py", "*.md", "*.yml", "*.yaml", "Makefile", "Dockerfile*")
    assert sources
    broken = []
    for path in sources:
        for line_number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for page, anchor in REFERENCE.findall(line):
                where = f"{path.relative_to(ROOT)}:{line_number}: docs/{page}.md{'#' + anchor if anchor else ''}"
                if not (ROOT / "docs" / f"{page}.md").is_file():
                    broken.append(f"{where} (no such page)")
                elif anchor and anchor not in ID.findall(page_html(site, page)):
                    broken.append(f"{where} (no such heading)")
    assert not broken, "broken references to the manual:\n" + "\n".join(broken)


def test_the_required_headings_exist(site):
    required = {
        "api": ["jobs", "waiting", "errors", "openai-compatibility", "interactive-reference"],
        "architecture": ["layers", "batching", "dispatch", "database"],
        "operations": ["upgrades", "retention"],
    }
    for page, anchors in required.items():
        ids = set(ID.findall(page_html(site, page)))
        assert set(anchors) <= ids, f"docs/{page}.md lacks {sorted(set(anchors) - ids)}"


def test_every_alert_has_a_runbook(site):
    alerts = re.findall(r"^\s*- alert: (\w+)", (ROOT / "deploy/observability/alerts.yml").read_text(), re.M)
    assert alerts
    ids = set(ID.findall(page_html(site, "operations")))
    missing = [alert for alert in alerts if alert.lower() not in ids]
    assert not missing, f"docs/operations.md has no runbook for {missing}"


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: move the details to docs/"
