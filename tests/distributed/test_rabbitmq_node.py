"""The RabbitMQ node leading the inference queue is killed (`kill -9` of its Erlang VM) under load and started
again later: clients fail over to the other two nodes and every accepted job succeeds once."""

import time

import pytest

from tests.distributed import scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DOWN_SECONDS = 20


def kill_the_queue_leader(bed, apps) -> float:
    vhost = apps.vhost
    queue = max(
        (q for q in bed.rabbit.queues(vhost) if not q[0].startswith(("dq.", "xq.")) and not q[0].endswith(".XQ")),
        key=lambda q: q[1],
    )[0]
    node = bed.rabbit.queue_leader(vhost, queue)
    node.kill()
    killed = time.time()
    time.sleep(DOWN_SECONDS)  # the fault's duration: the node stays down while the others carry the load
    node.start()
    return killed


def test_killing_the_node_that_leads_the_queue_loses_nothing_and_clients_fail_over(bed, tmp_path, models_dir, record):
    measured = scenario.run(bed, tmp_path, models_dir, "rabbitmq_leader_killed", kill_the_queue_leader)
    record(measured)
    assert measured.ledger["accepted"] >= scenario.JOBS
    assert measured.ledger == measured.ledger | {"lost": 0, "stuck": 0, "saved_twice": 0, "failed": {}}
    assert measured.ledger["succeeded"] == measured.ledger["accepted"]
    assert measured.hangs == 0 and measured.no_retry_after == 0
    assert (measured.errors_until_s or 0) < DOWN_SECONDS, "clients saw errors until the killed node came back"
