"""A small chaos run in CI: every fault once, under load; nothing accepted may be lost or written twice, and
every finished job that asked for a webhook gets it, correctly signed.
The full run (2,000 jobs) is `python -m tests.chaos`; its figures are in the README."""

import json
from dataclasses import asdict

import pytest

from tests import chaos, servers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_nothing_accepted_is_lost_or_written_twice_through_crashes_and_outages(tmp_path, models_dir):
    servers.require("PostgreSQL", servers.POSTGRES_ADMIN_URL)
    servers.require("RabbitMQ", servers.RABBITMQ_URL)
    report = chaos.run(240, 8.0, models_dir, tmp_path)
    print(json.dumps(asdict(report), indent=2))
    assert report.accepted >= 240
    assert len(report.faults) == 6, report.faults
    assert report.lost == 0, report
    assert report.written_twice == 0, report
    assert report.succeeded + report.failed == report.accepted
    assert report.webhooks_expected > 0, report
    assert report.webhooks_missing == 0 and report.webhooks_unsigned == 0, report
