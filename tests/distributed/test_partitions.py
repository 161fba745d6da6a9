"""Silent partitions under load: every packet dropped both ways (no reset) between one test host and one
server, for BED_PARTITION_SECONDS (60 s; shorter by hand for a quick look), then the link healed. Then 5 %
random loss on every link for BED_LOSS_SECONDS (60 s). Clients get 503 with Retry-After or an answer within
their deadline, never a hang, and every accepted job succeeds once."""

import os
import time

import pytest

from tests.distributed import scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PARTITION = float(os.environ.get("BED_PARTITION_SECONDS", "60"))
LOSS = float(os.environ.get("BED_LOSS_SECONDS", "60"))
ANSWER_WITHIN = 15.0  # a POST is answered (202, or 503 with Retry-After) within 3 x BROKER_SEND_TIMEOUT
RECOVER_WITHIN = 30.0  # results are saved again this soon after the link heals (no connection left on a dead socket)


def partition(role: str, server: str):
    def fault(bed, apps) -> float:
        ports = [bed.pg.primary.port] + ([bed.pg.standby.port] if bed.pg.standby else [])
        if server == "rabbitmq":
            ports = [node.port for node in bed.rabbit.nodes]
        bed.links[role].cut(*ports)
        time.sleep(PARTITION)  # the fault's duration
        bed.links[role].lift()
        return time.time()

    return fault


def lossy_links(bed, apps) -> float:
    for link in bed.links.values():
        link.lossy(5)
    time.sleep(LOSS)  # the fault's duration
    bed.lift_all()
    return time.time()


def check(measured) -> None:
    assert measured.ledger["accepted"] >= scenario.JOBS
    assert measured.ledger == measured.ledger | {"lost": 0, "stuck": 0, "saved_twice": 0, "failed": {}}
    assert measured.ledger["succeeded"] == measured.ledger["accepted"]
    assert measured.hangs == 0, "a request went past its own deadline unanswered"
    assert measured.no_retry_after == 0, "a 503 without Retry-After"
    # no recovery to measure when every job was saved before the heal (the load ended within a long fault)
    assert (measured.recovery_s or 0) <= RECOVER_WITHIN, "slow to recover after the heal"


def test_a_silent_partition_between_the_workers_and_postgresql_loses_nothing(bed, tmp_path, models_dir, record):
    measured = scenario.run(bed, tmp_path, models_dir, "partition_workers_postgres", partition("workers", "postgres"))
    record(measured)
    check(measured)


def test_a_silent_partition_between_the_workers_and_rabbitmq_loses_nothing(bed, tmp_path, models_dir, record):
    measured = scenario.run(bed, tmp_path, models_dir, "partition_workers_rabbitmq", partition("workers", "rabbitmq"))
    record(measured)
    check(measured)


def test_a_silent_partition_between_the_api_and_rabbitmq_answers_503_and_loses_nothing(
    bed, tmp_path, models_dir, record
):
    measured = scenario.run(bed, tmp_path, models_dir, "partition_api_rabbitmq", partition("web", "rabbitmq"))
    record(measured)
    check(measured)
    assert measured.detection_s is not None, "clients never saw the API lose its broker"
    assert measured.slowest_post_s <= ANSWER_WITHIN, "a POST was not answered within a bounded time"


def test_five_percent_packet_loss_on_every_link_loses_nothing(bed, tmp_path, models_dir, record):
    measured = scenario.run(bed, tmp_path, models_dir, "loss_5_percent_everywhere", lossy_links)
    record(measured)
    check(measured)
