"""One replicated bed (harness.bed: a three-node RabbitMQ cluster, a PostgreSQL primary and standby, the web's
and the workers' test hosts as network namespaces) for the fault tests of a session; each test has its own
database, vhost and processes. Without what the bed needs the tests skip, and fail under CI=true. Each
test's measurements are written to var/bed/measured/<test>.json, from which docs/failure-modes.md is made."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from harness import bed as bedlib
from tests.servers import IN_CI

MEASURED = Path(__file__).resolve().parents[2] / "var" / "bed" / "measured"


@pytest.fixture(scope="session")
def bed():
    why = bedlib.available()
    if why:
        if IN_CI:
            pytest.fail(f"the distributed bed cannot run: {why} (CI=true: these tests must run, not skip)")
        pytest.skip(why)
    with bedlib.Bed() as running:
        yield running


@pytest.fixture
def record(request):
    """Keep a test's measurements (printed, and written for the failure-mode table) whatever its verdict."""

    def keep(measured) -> None:
        MEASURED.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(measured), indent=2)
        print(text)
        (MEASURED / f"{request.node.name}.json").write_text(text + "\n")

    return keep
