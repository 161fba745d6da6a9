"""Prometheus' own tools for the tests: `promtool` (lint metrics, check and unit-test rules) and the
server. Tests that need them skip when they are absent, except under CI=true (`.ci/run` installs them)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.servers import IN_CI


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian: apt-get install prometheus)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: these tests must run, not skip")
        pytest.skip(message)
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([require("promtool"), *args], input=stdin, capture_output=True, text=True, check=False)


def check_metrics(exposition: str) -> None:
    """Fail with promtool's findings unless `exposition` is valid and follows Prometheus' naming rules."""
    done = promtool("check", "metrics", stdin=exposition)
    assert done.returncode == 0, f"promtool check metrics:\n{done.stdout}{done.stderr}"


def families(exposition: str) -> set[str]:
    """The metric family names an exposition declares (its `# TYPE` lines)."""
    return {line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")}
