"""House style, checked: small modules with one idea each (at most 300 lines) and functions short enough to
read at once (at most 60 lines). A function that only builds an argparse parser is exempt: its length is
its list of options."""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
SKIPPED_DIRS = {".git", "var", "build", "dist", "node_modules", "__pycache__"}
SKIPPED_PATHS = {Path("db/migrations")}  # generated one per change, and never edited after


def modules(root: Path = ROOT) -> list[Path]:
    """Every Python module of the repository, as paths relative to it (virtual environments excluded)."""
    found = []
    for folder, dirs, files in os.walk(root):  # symlinked folders are not followed
        here = Path(folder).relative_to(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and not d.startswith((".venv", ".tox", ".ruff", ".pytest"))
            and here / d not in SKIPPED_PATHS
        )
        found += [here / name for name in sorted(files) if name.endswith(".py")]
    return found


def builds_a_parser(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function builds an argparse parser (calls ArgumentParser or add_argument)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in ("ArgumentParser", "add_argument"):
                return True
    return False


def offenders(path: Path, source: str) -> list[str]:
    """What in one module breaks the limits, one line each (path, what, how long)."""
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{path}: module of {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not builds_a_parser(node):
                found.append(f"{path}:{node.lineno}: {node.name}() of {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def everything() -> list[str]:
    return [line for path in modules() for line in offenders(path, (ROOT / path).read_text(encoding="utf-8"))]


def test_no_module_is_over_300_lines_and_no_function_over_60():
    found = everything()
    assert not found, "too long:\n" + "\n".join(found)


def test_the_check_counts_module_and_function_lengths_and_exempts_parser_builders():
    long_body = "\n".join(f"    x{i} = {i}" for i in range(61))
    parser_body = "\n".join(f"    parser.add_argument('--o{i}')" for i in range(61))
    source = (
        f"def long():\n{long_body}\n\n"
        f"def short():\n    return 1\n\n"
        f"def options():\n    parser = argparse.ArgumentParser()\n{parser_body}\n    return parser\n"
    )
    found = offenders(Path("m.py"), source)
    assert found == ["m.py:1: long() of 62 lines (at most 60)"]
    assert offenders(Path("big.py"), "x = 1\n" * 301) == ["big.py: module of 301 lines (at most 300)"]


def test_the_check_sees_the_project_and_skips_virtual_environments_and_migrations():
    found = {str(path) for path in modules()}
    assert "tests/test_house.py" in found and "inference_api/cli.py" in found
    assert not any(p.startswith((".venv", "var/", "db/migrations/")) for p in found)
