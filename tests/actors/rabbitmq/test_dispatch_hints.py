"""`Dispatch` and the hints of lone waited jobs (`actors.hints`): which deliveries hand theirs to the batcher,
and the bulk queue's dispatch, whose lines carry none (the stand-ins of `tests.actors.rabbitmq.doubles`)."""

from concurrent.futures import Future

import pytest
from dramatiq.broker import MessageProxy

from actors import bulk, inference
from actors.broker import make_broker
from actors.rabbitmq.dispatch import BulkDispatch, Dispatch
from core.config import EMBEDDED_BROKER
from tests.actors.rabbitmq.doubles import Batcher, Consumer


@pytest.fixture
def setup():
    def make():
        broker = make_broker(EMBEDDED_BROKER)
        actor, batcher = inference.declare(broker), Batcher()
        dispatch = Dispatch(batcher, drain_seconds=5.0)
        broker.add_middleware(dispatch)
        return broker, actor, batcher, dispatch, None

    return make


HINT = ["all-MiniLM-L6-v2", "feature-extraction", {}, ["hi"]]


class Delivered(MessageProxy):
    """A message as RabbitMQ's consumer hands it over, with the broker's redelivery flag."""

    def __init__(self, message, redelivered: bool):
        super().__init__(message)
        self.redelivered = redelivered


def test_the_first_delivery_of_a_lone_jobs_message_hands_its_hint_to_the_batcher(setup):
    broker, actor, batcher, dispatch, _ = setup()
    dispatch(Consumer(broker), Delivered(actor.message_with_options(args=("a",), hint=HINT), redelivered=False))
    assert batcher.submitted == [["a"]] and batcher.hints == [HINT]


@pytest.mark.parametrize(
    ("options", "redelivered"),
    [
        ({"hint": HINT}, True),  # its worker may have died on this input: claimed before it runs again
        ({"hint": HINT, "retries": 1}, False),  # a retry: claimed first, as every message without a hint
        ({}, False),  # no hint
    ],
)
def test_a_redelivered_retried_or_unhinted_message_hands_no_hint(setup, options, redelivered):
    broker, actor, batcher, dispatch, _ = setup()
    dispatch(Consumer(broker), Delivered(actor.message_with_options(args=("a",), **options), redelivered))
    assert batcher.submitted == [["a"]] and batcher.hints == [None]


def test_a_message_that_cannot_say_whether_it_was_redelivered_hands_no_hint(setup):
    broker, actor, batcher, dispatch, _ = setup()
    dispatch(Consumer(broker), MessageProxy(actor.message_with_options(args=("a",), hint=HINT)))
    assert batcher.hints == [None]


def test_the_bulk_dispatch_hands_a_batchs_lines_to_the_bulk_lane_with_no_hint():
    """Its submitter takes the message's arguments alone (the owner, then the lines' job ids)."""

    class Lanes:
        max_jobs = 32
        submitted: list = []

        def submit_many(self, job_ids, *, lane, owner):
            self.submitted.append((list(job_ids), lane, owner))
            return [Future() for _ in job_ids]

    broker, lanes = make_broker(EMBEDDED_BROKER), Lanes()
    actor = bulk.declare(broker)
    dispatch = BulkDispatch(bulk.BulkSubmitter(lanes), queue_name=bulk.QUEUE, actor_name=bulk.ACTOR)
    broker.add_middleware(dispatch)
    dispatch(Consumer(broker), Delivered(actor.message_with_options(args=("owner-1", "a", "b")), redelivered=False))
    assert lanes.submitted == [(["a", "b"], "bulk", "owner-1")]
