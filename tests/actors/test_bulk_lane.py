"""The bulk lane: the keys in turn, and batches released a chunk per key in turn up to a bound on what is
queued. How the bulk lane yields to interactive work: tests/actors/test_loops.py."""

import datetime as dt
import queue

import pytest

from actors import bulk
from actors.batch_keeper import release
from actors.lanes import BulkLane
from db import Job
from db.base import utcnow
from tests.doubles import make_batch


def drain(lane: BulkLane) -> list:
    taken = []
    while True:
        try:
            taken.append(lane.get(timeout=0))
        except queue.Empty:
            return taken


def test_a_second_keys_first_job_waits_behind_at_most_one_job_of_each_other_key():
    lane = BulkLane()
    for n in range(1000):  # a tenant with a large backlog
        lane.put(("a", n), owner="key-a")
    for n in range(3):
        lane.put(("c", n), owner="key-c")
    lane.put(("b", 0), owner="key-b")  # the newcomer's first job
    order = drain(lane)
    keys_ahead = {key for key, _ in order[: order.index(("b", 0))]}
    assert order.index(("b", 0)) <= 2 and keys_ahead <= {"a", "c"}  # one job of each key ahead, at most
    assert order[:6] == [("a", 0), ("c", 0), ("b", 0), ("a", 1), ("c", 1), ("a", 2)]
    assert [n for key, n in order if key == "a"] == list(range(1000))  # a key's own jobs keep their order


@pytest.mark.parametrize("keys", [2, 5, 50])
def test_the_bound_holds_for_any_number_of_keys_with_backlogs(keys):
    lane = BulkLane()
    for key in range(keys):
        for n in range(200):
            lane.put((key, n), owner=f"key-{key}")
    lane.put(("new", 0), owner="key-new")
    assert drain(lane).index(("new", 0)) <= keys


def test_a_get_waits_for_an_item_and_gives_up_after_its_timeout():
    lane = BulkLane()
    with pytest.raises(queue.Empty):
        lane.get(timeout=0.01)
    lane.put("x", owner="k")
    assert lane.get(timeout=0.01) == "x" and lane.qsize() == 0


def test_batches_are_released_a_chunk_per_key_in_turn_up_to_the_bound_on_queued_jobs(database, stub_broker):
    make_batch("key-a", 50)
    make_batch("key-a", 50)
    make_batch("key-b", 5)
    assert release(stub_broker, in_flight=12, chunk=4) == 12
    owners = [job.owner for job in Job.select()]
    assert (owners.count("key-a"), owners.count("key-b")) == (8, 4)  # turns: a, b, a
    assert stub_broker.queues[bulk.QUEUE].qsize() == 3  # a message per chunk
    assert release(stub_broker, in_flight=12, chunk=4) == 0  # nothing more until some start
    for job in Job.select():
        Job.claim(job.id)  # started: room for more
    assert release(stub_broker, in_flight=4, chunk=4) == 4
    latest = Job.select().order_by(Job.created_at.desc()).limit(4)
    assert [job.owner for job in latest].count("key-b") == 1  # b, with fewer jobs under way, went first


def test_the_lanes_depth_throughput_and_age_are_metrics(database, stub_broker):
    from prometheus_client import REGISTRY

    from actors.batch_keeper import keep

    def sample(name):
        return REGISTRY.get_sample_value(name) or 0

    finished_before = sample("inference_api_bulk_jobs_finished_total")
    make_batch("key-a", 6)
    keep(stub_broker, in_flight=4, now=utcnow() + dt.timedelta(seconds=30))
    assert sample("inference_api_bulk_jobs_queued") == 6  # 4 released and queued, 2 waiting for room
    assert sample("inference_api_bulk_oldest_job_age_seconds") >= 30
    for job in Job.select():
        Job.claim(job.id).finish("succeeded", output=[{"embedding": [1.0], "tokens": 1}])
    keep(stub_broker)
    assert sample("inference_api_bulk_jobs_finished_total") - finished_before == 4
