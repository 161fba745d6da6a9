"""A small chaos run in CI: every short fault once and a broker memory alarm, under load, on private servers
(tests/private_servers.py); nothing accepted may be lost, failed or written twice, every finished job
that asked for a webhook gets it, correctly signed, and a batch created before the faults and in flight
through a worker kill, a RabbitMQ restart and a PostgreSQL restart completes with every line answered once,
in its output file. The full runs (with a PostgreSQL outage of minutes) are `python -m tests.chaos`, which
reports its own figures."""

import json
from dataclasses import asdict

import pytest

from tests import chaos, private_servers
from tests.servers import IN_CI

pytestmark = [pytest.mark.integration, pytest.mark.slow]


BATCH_SECONDS = 90  # the batch in flight: lines for about this long at the bulk lane's pace


def test_nothing_accepted_is_lost_or_written_twice_through_crashes_outages_and_an_alarm(tmp_path, models_dir):
    why = private_servers.available()
    if why:
        if IN_CI:
            pytest.fail(f"private servers cannot start: {why}")
        pytest.skip(why)
    report = chaos.run(240, 8.0, models_dir, tmp_path, alarm=8, batch_seconds=BATCH_SECONDS)
    print(json.dumps(asdict(report), indent=2))
    assert report.accepted >= 240
    assert len(report.faults) == 7, report.faults
    assert report.lost == 0, report
    assert report.written_twice == 0, report
    assert report.failed == 0, report
    assert report.succeeded == report.accepted
    assert report.webhooks_expected > 0, report
    assert report.webhooks_missing == 0 and report.webhooks_unsigned == 0, report
    batch = report.batch
    lines = batch["lines"]
    through = set(batch["in_flight_through"])
    assert {"kill -9 worker", "rabbitmqctl stop_app/start_app", "postgresql restart"} <= through, batch
    assert batch["status"] == "completed", batch
    assert (batch["answered"], batch["missing"], batch["twice"], batch["unknown"]) == (lines, 0, 0, 0), batch
    assert batch["in_error_file"] == 0, batch
    assert batch["request_counts"] == {"total": lines, "completed": lines, "failed": 0}, batch
    assert batch["counts_agree"], batch
