"""`Dispatch` as a unit: a stand-in batcher whose futures the test resolves, a stand-in consumer that records
acks and nacks, Dramatiq's own middleware on a StubBroker (the real consumer and batcher run against
RabbitMQ and PostgreSQL in tests/integration/test_dispatch.py)."""

import logging
import threading

import peewee
import pytest
from dramatiq import Message, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.common import dq_name
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import SkipMessage, TimeLimit
from dramatiq.rate_limits import RateLimitExceeded

from actors import inference
from actors.broker import make_broker
from actors.rabbitmq.dispatch import Dispatch
from core.config import EMBEDDED_BROKER
from tests.actors.rabbitmq.doubles import Batcher, Consumer, Recorder


@pytest.fixture
def setup():
    def make(**recorder):
        broker = make_broker(EMBEDDED_BROKER)
        recorder = Recorder(**recorder)
        broker.add_middleware(recorder)
        actor = inference.declare(broker)
        batcher = Batcher()
        dispatch = Dispatch(batcher, drain_seconds=5.0)
        broker.add_middleware(dispatch)
        return broker, actor, batcher, dispatch, recorder

    return make


def message(actor, *job_ids, **options):
    return MessageProxy(actor.message_with_options(args=job_ids, **options))


def test_a_message_is_acked_only_once_every_one_of_its_jobs_is_saved(setup):
    broker, actor, batcher, dispatch, recorder = setup()
    consumer = Consumer(broker)
    sent = message(actor, "a", "b")
    dispatch(consumer, sent)
    assert batcher.submitted == [["a", "b"]]
    assert recorder.calls == [("before", sent.message_id)]
    batcher.futures[0].set_result(True)
    assert consumer.acked == [] and len(recorder.calls) == 1
    batcher.futures[1].set_result(None)  # None: finished before, nothing to do
    assert consumer.acked == [sent.message_id] and consumer.nacked == []
    assert recorder.calls[1] == ("after", sent.message_id, None)


def test_no_thread_bound_middleware_runs_for_a_dispatched_message(setup):
    broker, actor, _batcher, dispatch, _ = setup()
    [time_limit] = [m for m in broker.middleware if isinstance(m, TimeLimit)]
    dispatch(Consumer(broker), message(actor, "a"))
    assert threading.get_ident() not in time_limit.manager.deadlines  # its monitor would interrupt this thread


def test_a_transient_error_retries_the_message_with_backoff_and_acks_this_delivery(setup):
    broker, actor, batcher, dispatch, recorder = setup()
    consumer = Consumer(broker)
    sent = message(actor, "a", "b")
    dispatch(consumer, sent)
    batcher.futures[0].set_result(True)
    batcher.futures[1].set_exception(peewee.OperationalError("the database is down"))
    assert dispatch.wait_settled(5) == 0
    assert recorder.calls[-1] == ("after", sent.message_id, "OperationalError")
    assert consumer.acked == [sent.message_id]  # as Dramatiq does: the retry is a new message
    [retry] = [MessageProxy(Message.decode(m)) for m in broker.queues[dq_name(inference.QUEUE)].queue]
    assert retry.args == ("a", "b") and retry.options["retries"] == 1 and "eta" in retry.options
    assert "OperationalError" in retry.options["traceback"]
    assert not dispatch.takes(retry)  # due later: Dramatiq's consumer holds it until its eta


def test_a_message_out_of_retries_is_dead_lettered(setup):
    broker, actor, batcher, dispatch, _recorder = setup()
    consumer = Consumer(broker)
    sent = message(actor, "a", retries=inference.OPTIONS["max_retries"])
    dispatch(consumer, sent)
    batcher.futures[0].set_exception(peewee.OperationalError("the database is down"))
    assert dispatch.wait_settled(5) == 0
    assert sent.failed and consumer.nacked == [sent.message_id] and consumer.acked == []
    assert dq_name(inference.QUEUE) not in broker.queues or broker.queues[dq_name(inference.QUEUE)].empty()


def test_a_message_failed_by_a_before_hook_is_not_run_and_is_dead_lettered(setup):
    broker, actor, batcher, dispatch, recorder = setup(fail_before=True)
    consumer = Consumer(broker)
    sent = message(actor, "a")
    dispatch(consumer, sent)
    assert dispatch.wait_settled(5) == 0
    assert batcher.submitted == []
    assert consumer.nacked == [sent.message_id]
    assert recorder.calls == [("before", sent.message_id), ("after", sent.message_id, None)]


def test_only_the_actors_messages_due_now_are_taken(setup):
    _broker, actor, _batcher, dispatch, _ = setup()
    assert dispatch.takes(message(actor, "a"))
    assert not dispatch.takes(message(actor, "a", eta=0))
    other = MessageProxy(actor.message("a").copy(actor_name="webhooks"))
    assert not dispatch.takes(other)


def test_a_message_whose_ack_cannot_be_sent_is_left_for_redelivery(setup, caplog):
    broker, actor, batcher, dispatch, _ = setup()
    consumer = Consumer(broker, fail=ConnectionClosed(OSError("connection reset")))
    dispatch(consumer, message(actor, "a"))
    with caplog.at_level(logging.INFO, logger="actors.rabbitmq.dispatch"):
        batcher.futures[0].set_result(True)  # the callback must not raise into the batcher's thread
    assert "will be delivered again" in caplog.text
    dispatch.drain_seconds = 0.0
    dispatch.before_consumer_thread_shutdown(broker, type("Thread", (), {"queue_name": inference.QUEUE}))
    assert "still running" not in caplog.text  # counted as settled


def test_the_consumer_waits_at_shutdown_for_the_messages_it_dispatched(setup, caplog):
    broker, actor, batcher, dispatch, _ = setup()
    consumer = Consumer(broker)
    sent = message(actor, "a")
    dispatch(consumer, sent)
    thread = type("ConsumerThread", (), {"queue_name": inference.QUEUE})
    waiting = threading.Thread(target=dispatch.before_consumer_thread_shutdown, args=(broker, thread))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # held while the message runs
    batcher.futures[0].set_result(True)
    waiting.join(5)
    assert not waiting.is_alive() and consumer.acked == [sent.message_id]
    assert "still running" not in caplog.text


def test_the_wait_at_shutdown_is_bounded(setup, caplog):
    broker, actor, _batcher, dispatch, _ = setup()
    dispatch.drain_seconds = 0.05
    dispatch(Consumer(broker), message(actor, "a"))
    with caplog.at_level(logging.WARNING, logger="actors.rabbitmq.dispatch"):
        dispatch.before_consumer_thread_shutdown(broker, type("Thread", (), {"queue_name": inference.QUEUE}))
    assert "1 message(s) still running at shutdown" in caplog.text


def test_a_failed_message_is_settled_off_the_batchers_thread_so_an_outage_cannot_hold_the_batcher(setup):
    broker, actor, batcher, dispatch, _recorder = setup()
    release, threads = threading.Event(), []  # (message id, the thread its after-hooks ran on)

    class SlowToFail(Middleware):  # a retry publish or a failure write waiting out an outage
        def after_process_message(self, broker, message, *, result=None, exception=None):
            threads.append((message.message_id, threading.get_ident()))
            if exception is not None:
                release.wait(5)

    broker.add_middleware(SlowToFail())
    consumer = Consumer(broker)
    failed, fine = message(actor, "a"), message(actor, "b")
    dispatch(consumer, failed)
    dispatch(consumer, fine)
    batcher.futures[0].set_exception(peewee.OperationalError("the database is down"))  # returns at once
    batcher.futures[1].set_result(True)
    assert consumer.acked == [fine.message_id]  # the next message is not held behind the failed one
    release.set()
    assert dispatch.wait_settled(5) == 0
    assert consumer.acked == [fine.message_id, failed.message_id]  # retried as a new message, this one acked
    settled_on = dict(threads)
    assert settled_on[fine.message_id] == threading.get_ident()  # inline: the ack only queues a frame
    assert settled_on[failed.message_id] != threading.get_ident()


def test_the_prefetch_holds_about_two_batches_of_jobs_whatever_a_message_carries(setup):
    broker, actor, batcher, dispatch, _ = setup()
    assert dispatch.jobs_held == 2 * batcher.max_jobs
    assert dispatch.prefetch == dispatch.jobs_held  # nothing seen yet: a job a message
    consumer = Consumer(broker)
    for index in range(64):  # a burst through the group commit: 8 jobs a message
        dispatch(consumer, message(actor, *(f"{index}-{job}" for job in range(8))))
    assert dispatch.jobs_held / 8 <= dispatch.prefetch <= dispatch.jobs_held / 8 * 1.25
    for index in range(64):  # a trickle: one job a message
        dispatch(consumer, message(actor, f"single-{index}"))
    assert dispatch.jobs_held * 0.75 <= dispatch.prefetch <= dispatch.jobs_held
    for _ in range(64):  # a message without jobs never raises it past a message a job
        dispatch(consumer, message(actor))
    assert dispatch.prefetch == dispatch.jobs_held


class Skipper(Middleware):
    def __init__(self, fail=False):
        self.skipped: list[str] = []
        self.fail = fail

    def before_process_message(self, broker, message):
        if self.fail:
            message.fail()
        raise SkipMessage("not this one")

    def after_skip_message(self, broker, message):
        self.skipped.append(message.message_id)


def test_a_message_a_before_hook_skips_is_not_run_and_is_acked_once_the_skip_hooks_ran(setup, caplog):
    broker, actor, batcher, dispatch, recorder = setup()
    skipper = Skipper()
    broker.add_middleware(skipper)
    consumer = Consumer(broker)
    sent = message(actor, "a")
    with caplog.at_level(logging.WARNING, logger="actors.rabbitmq.dispatch"):
        dispatch(consumer, sent)
    assert dispatch.wait_settled(5) == 0
    assert batcher.submitted == [] and skipper.skipped == [sent.message_id]
    assert consumer.acked == [sent.message_id] and consumer.nacked == []
    assert recorder.calls == [("before", sent.message_id)]  # skipped: no after_process_message, so no retry
    assert dq_name(inference.QUEUE) not in broker.queues or broker.queues[dq_name(inference.QUEUE)].empty()
    assert "was skipped" in caplog.text and "unhandled exception" not in caplog.text


def test_a_skipped_message_a_hook_also_failed_is_dead_lettered(setup):
    broker, actor, _batcher, dispatch, _recorder = setup()
    broker.add_middleware(Skipper(fail=True))
    consumer = Consumer(broker)
    sent = message(actor, "a")
    dispatch(consumer, sent)
    assert dispatch.wait_settled(5) == 0
    assert consumer.nacked == [sent.message_id] and consumer.acked == []


class Expected(Exception):
    """An exception the actor declares it throws."""


def test_an_exception_the_actor_throws_is_logged_as_expected_and_not_retried(setup, caplog):
    broker, actor, batcher, dispatch, _recorder = setup()
    actor.options["throws"] = (Expected,)
    consumer = Consumer(broker)
    sent = message(actor, "a")
    with caplog.at_level(logging.INFO, logger="actors.rabbitmq.dispatch"):
        dispatch(consumer, sent)
        batcher.futures[0].set_exception(Expected("known"))
        assert dispatch.wait_settled(5) == 0
    assert "with expected exception Expected" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert consumer.nacked == [sent.message_id]  # Retries gives up a message on what its actor throws


@pytest.mark.parametrize(
    ("error", "level"),
    [(RateLimitExceeded("too many"), logging.DEBUG), (peewee.OperationalError("down"), logging.ERROR)],
    ids=["rate limit", "unexpected"],
)
def test_a_failure_is_logged_at_the_level_dramatiqs_worker_logs_it(setup, caplog, error, level):
    broker, actor, batcher, dispatch, _recorder = setup()
    with caplog.at_level(logging.DEBUG, logger="actors.rabbitmq.dispatch"):
        dispatch(Consumer(broker), message(actor, "a"))
        batcher.futures[0].set_exception(error)
        assert dispatch.wait_settled(5) == 0
    [logged] = [record for record in caplog.records if record.getMessage().startswith(("Rate limit", "Failed"))]
    assert logged.levelno == level
