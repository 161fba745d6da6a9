"""The PostgreSQL primary is killed under load and the standby promoted: the web, the workers and the sweeper
(given both hosts, `target_session_attrs=read-write`) find the new primary, and every accepted job succeeds
once. The bed then builds a new standby of the new primary for the tests after this one."""

import time

import pytest

from tests.distributed import scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PROMOTE_AFTER = 5  # seconds between the primary's death and the promotion, as a failover manager would take


def kill_the_primary_and_promote(bed, apps) -> float:
    bed.pg.primary.kill()
    time.sleep(PROMOTE_AFTER)  # the fault's duration: no primary at all until the standby is promoted
    bed.pg.promote()
    return time.time()


def test_killing_the_primary_and_promoting_the_standby_loses_nothing(bed, tmp_path, models_dir, record):
    try:
        measured = scenario.run(
            bed, tmp_path, models_dir, "postgres_failover", kill_the_primary_and_promote, multi_host=True
        )
    finally:
        if bed.pg.standby is None:
            bed.pg.rebuild_standby()
    record(measured)
    assert measured.ledger["accepted"] >= scenario.JOBS
    assert measured.ledger == measured.ledger | {"lost": 0, "stuck": 0, "saved_twice": 0, "failed": {}}
    assert measured.ledger["succeeded"] == measured.ledger["accepted"]
    assert measured.hangs == 0 and measured.no_retry_after == 0
