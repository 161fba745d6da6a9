"""A small chaos run in CI: every short fault once and a broker memory alarm, under load, on private servers
(tests/private_servers.py); nothing accepted may be lost, failed or written twice, and every finished job
that asked for a webhook gets it, correctly signed. The full runs (with a
PostgreSQL outage of minutes) are `python -m tests.chaos`, which reports its own figures."""

import json
from dataclasses import asdict

import pytest

from tests import chaos, private_servers
from tests.servers import IN_CI

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_nothing_accepted_is_lost_or_written_twice_through_crashes_outages_and_an_alarm(tmp_path, models_dir):
    why = private_servers.available()
    if why:
        if IN_CI:
            pytest.fail(f"private servers cannot start: {why}")
        pytest.skip(why)
    report = chaos.run(240, 8.0, models_dir, tmp_path, alarm=8)
    print(json.dumps(asdict(report), indent=2))
    assert report.accepted >= 240
    assert len(report.faults) == 7, report.faults
    assert report.lost == 0, report
    assert report.written_twice == 0, report
    assert report.failed == 0, report
    assert report.succeeded == report.accepted
    assert report.webhooks_expected > 0, report
    assert report.webhooks_missing == 0 and report.webhooks_unsigned == 0, report
