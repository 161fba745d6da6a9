"""What each of our Dramatiq overrides (actors/rabbitmq/) relies on in Dramatiq, checked by name: after a
Dramatiq upgrade, a failure here names the override and what moved (docs/internals.md#contract-tests)."""

import ast
import inspect
import textwrap
from http.server import BaseHTTPRequestHandler

import dramatiq
import pika
import pytest
from dramatiq import Middleware
from dramatiq.broker import Broker, MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer, _RabbitmqMessage
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import RateLimitExceeded, Retry
from dramatiq.message import Message
from dramatiq.middleware import MiddlewareError, SkipMessage, prometheus
from dramatiq.worker import ConsumerThread, WorkerThread

from actors.metrics import DramatiqMetrics
from actors.rabbitmq import hooks

CONSUMER = "actors.rabbitmq.consumer.CoalescingConsumer"
BROKER = "actors.rabbitmq.broker.CoalescingRabbitmqBroker"
PUBLISHER = "actors.rabbitmq.publisher.SharedConnectionBroker"
DISPATCH = "actors.rabbitmq.dispatch.Dispatch"
EXPOSITION = "actors.rabbitmq.exposition.ForgettingMetricsHandler"
METRICS = "actors.metrics.DramatiqMetrics"
QUEUES = "actors.rabbitmq.queues.QueueTypes"
PINNED_MINOR = (2, 2)  # setup.cfg: dramatiq[rabbitmq,prometheus]~=2.2.1


def relies(condition: bool, override: str, what: str) -> None:
    assert condition, f"{override} relies on Dramatiq's {what}, which has moved: review the override"


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def source_tree(function) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def names_in(function) -> set[str]:
    """Every name and attribute a function's source mentions."""
    tree = source_tree(function)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {
        node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
    }


def calls_in(function) -> list[tuple[str, tuple]]:
    """Each method call a function's source makes, with its constant arguments: ("emit_after", ("nack",))."""
    return [
        (node.func.attr, tuple(arg.value for arg in node.args if isinstance(arg, ast.Constant)))
        for node in ast.walk(source_tree(function))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]


def test_dramatiq_is_the_minor_version_the_overrides_were_written_for():
    installed = tuple(int(part) for part in dramatiq.__version__.split(".")[:2])
    assert installed == PINNED_MINOR, (
        f"Dramatiq {dramatiq.__version__} is installed; actors/rabbitmq/ was written and tested against "
        f"{'.'.join(map(str, PINNED_MINOR))}.x: run these contract tests, review each override, then move the pin"
    )


# The consumer: a subclass of the private `_RabbitmqConsumer`.


def test_the_private_rabbitmq_consumer_is_built_as_the_consumer_expects():
    relies(isinstance(_RabbitmqConsumer, type), CONSUMER, "private class dramatiq.brokers.rabbitmq._RabbitmqConsumer")
    relies(
        parameters(_RabbitmqConsumer.__init__) == ["self", "broker", "queue_name", "prefetch", "timeout"],
        CONSUMER,
        "_RabbitmqConsumer.__init__(broker, queue_name, prefetch, timeout) signature",
    )
    relies(parameters(_RabbitmqConsumer.__next__) == ["self"], CONSUMER, "_RabbitmqConsumer.__next__(self) signature")
    for method in ("ack", "nack"):
        relies(parameters(getattr(_RabbitmqConsumer, method)) == ["self", "message"], CONSUMER, f"{method}(message)")
    relies("_tag" in names_in(_RabbitmqMessage.__init__), CONSUMER, "_RabbitmqMessage._tag (the delivery tag)")


class FakeChannel:
    def basic_qos(self, **options):
        self.qos = options

    def consume(self, queue_name, **options):
        return iter(())


class FakeConnection:
    def __init__(self, parameters=None):
        self.parameters = parameters

    def channel(self):
        return FakeChannel()


def test_the_private_rabbitmq_consumer_holds_the_attributes_the_consumer_uses(monkeypatch):
    monkeypatch.setattr(pika, "BlockingConnection", FakeConnection)
    broker = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/")
    consumer = _RabbitmqConsumer(broker, "inference", 8, 1000)
    relies(isinstance(getattr(consumer, "known_tags", None), set), CONSUMER, "_RabbitmqConsumer.known_tags (a set)")
    relies(isinstance(getattr(consumer, "connection", None), FakeConnection), CONSUMER, "_RabbitmqConsumer.connection")
    relies(isinstance(getattr(consumer, "channel", None), FakeChannel), CONSUMER, "_RabbitmqConsumer.channel")
    relies(hasattr(consumer, "logger") and consumer.broker is broker, CONSUMER, "_RabbitmqConsumer.logger and .broker")
    relies(consumer.channel.qos == {"prefetch_count": 8}, CONSUMER, "a consumer-level basic_qos(prefetch_count)")


def test_the_private_consumer_adds_each_delivery_tag_to_known_tags_in_next():
    relies("known_tags" in names_in(_RabbitmqConsumer.__next__), CONSUMER, "__next__ adding tags to known_tags")


def test_the_worker_skips_a_none_from_the_consumer():
    """The consumer returns None for a message its dispatcher took: the consumer loop must carry on."""
    relies(
        "is not None" in inspect.getsource(ConsumerThread.run),
        CONSUMER,
        "ConsumerThread.run skipping a None message",
    )


# The broker: the `consumer_class` hook, `consume`, and the channel property.


def test_the_rabbitmq_broker_builds_its_consumer_through_the_consumer_class_hook():
    relies(isinstance(RabbitmqBroker.__dict__.get("consumer_class"), property), BROKER, "RabbitmqBroker.consumer_class")
    relies(
        "consumer_class" in names_in(RabbitmqBroker.consume),
        BROKER,
        "RabbitmqBroker.consume building self.consumer_class(...)",
    )
    relies(
        parameters(RabbitmqBroker.consume) == ["self", "queue_name", "prefetch", "timeout"],
        BROKER,
        "RabbitmqBroker.consume(queue_name, prefetch, timeout) signature",
    )


def test_the_rabbitmq_brokers_channel_is_a_property_with_a_getter_and_a_deleter_over_state_and_channels():
    channel = RabbitmqBroker.__dict__.get("channel")
    relies(isinstance(channel, property), BROKER, "RabbitmqBroker.channel property")
    relies(channel.fget is not None and channel.fdel is not None, BROKER, "RabbitmqBroker.channel fget and fdel")
    relies({"state", "channels"} <= names_in(channel.fdel), BROKER, "the channel deleter using state and channels")
    broker = RabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/")
    relies(isinstance(broker.channels, set), BROKER, "RabbitmqBroker.channels (a set)")


# The publisher: one `state` for every thread, the connection property and the methods it locks.


def test_the_rabbitmq_broker_keeps_its_connection_and_channel_in_state():
    connection = RabbitmqBroker.__dict__.get("connection")
    relies(isinstance(connection, property) and connection.fdel is not None, PUBLISHER, "RabbitmqBroker.connection")
    relies("state" in names_in(connection.fget), PUBLISHER, "the connection kept in RabbitmqBroker.state")
    relies("state" in names_in(RabbitmqBroker.__dict__["channel"].fget), PUBLISHER, "the channel kept in state")
    expected = {
        "enqueue": ["self", "message", "delay"],
        "declare_queue": ["self", "queue_name", "ensure"],
        "get_queue_message_counts": ["self", "queue_name"],
        "close": ["self"],
    }
    for name, names in expected.items():
        relies(parameters(getattr(RabbitmqBroker, name)) == names, PUBLISHER, f"RabbitmqBroker.{name} signature")


# The dispatch path: what `WorkerThread.process_message` and `post_process_message` do.


def test_the_workers_process_message_handles_what_dispatch_mirrors():
    names = names_in(WorkerThread.process_message)
    for handled in ("SkipMessage", "RateLimitExceeded", "Retry", "stuff_exception", "clear_exception", "failed"):
        relies(handled in names, DISPATCH, f"WorkerThread.process_message handling {handled}")
    relies("throws" in inspect.getsource(WorkerThread.process_message), DISPATCH, "the actor's `throws` option")
    calls = calls_in(WorkerThread.process_message)
    for signal in ("process_message", "skip_message"):
        relies(any(call[1][:1] == (signal,) for call in calls), DISPATCH, f"the {signal} hooks of process_message")
    relies(issubclass(SkipMessage, MiddlewareError), DISPATCH, "SkipMessage being a MiddlewareError")
    relies(issubclass(RateLimitExceeded, Exception) and issubclass(Retry, Exception), DISPATCH, "its exceptions")


def test_the_workers_post_processing_acks_or_nacks_with_their_hooks():
    calls = calls_in(ConsumerThread.post_process_message)
    for signal in ("ack", "nack"):
        relies(("emit_before", (signal,)) in calls, DISPATCH, f"emit_before({signal!r}) in post_process_message")
        relies(("emit_after", (signal,)) in calls, DISPATCH, f"emit_after({signal!r}) in post_process_message")
    relies("failed" in names_in(ConsumerThread.post_process_message), DISPATCH, "nack when failed")


def test_a_message_proxy_carries_an_exception_for_the_after_hooks():
    proxy = MessageProxy(Message(queue_name="q", actor_name="a", args=(), kwargs={}, options={}))
    relies(parameters(MessageProxy.stuff_exception) == ["self", "exception"], DISPATCH, "stuff_exception(exception)")
    relies(parameters(MessageProxy.clear_exception) == ["self"], DISPATCH, "MessageProxy.clear_exception()")
    proxy.fail()
    relies(proxy.failed, DISPATCH, "MessageProxy.fail() and .failed")


def test_the_worker_consumer_thread_calls_the_shutdown_hook_dispatch_drains_in():
    relies(
        ("emit_before", ("consumer_thread_shutdown",)) in calls_in(ConsumerThread.run),
        DISPATCH,
        "emit_before('consumer_thread_shutdown') in ConsumerThread.run",
    )


class Recorder(Middleware):
    def __init__(self, name, calls, fail=None):
        self.name, self.calls, self.fail = name, calls, fail

    def before_process_message(self, broker, message):
        self.calls.append(("before", self.name))
        if self.fail:
            raise self.fail

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.calls.append(("after", self.name))
        if self.fail:
            raise self.fail

    def after_skip_message(self, broker, message):
        self.calls.append(("skip", self.name))


@pytest.mark.parametrize(
    "fail", [None, RuntimeError("a hook's bug"), SkipMessage("skip"), MiddlewareError("refused")], ids=repr
)
def test_the_dispatch_hooks_run_as_the_brokers_emit_before_and_emit_after(fail):
    """`actors.rabbitmq.hooks` runs a chosen list of middleware as `Broker.emit_before`/`emit_after` run all."""

    def run(before, after):
        calls = []
        middleware = [Recorder("a", calls), Recorder("b", calls, fail), Recorder("c", calls)]
        broker = StubBroker(middleware=middleware)
        raised = None
        try:
            before(broker, middleware)
        except MiddlewareError as e:
            raised = type(e)
        after(broker, middleware)
        return calls, raised

    message = object()
    ours = run(
        lambda broker, hooked: hooks.emit_before(broker, hooked, message),
        lambda broker, hooked: hooks.emit_after(broker, hooked, "process_message", message),
    )
    dramatiqs = run(
        lambda broker, _: Broker.emit_before(broker, "process_message", message),
        lambda broker, _: Broker.emit_after(broker, "process_message", message),
    )
    relies(ours == dramatiqs, "actors.rabbitmq.hooks", f"Broker.emit_before/emit_after semantics ({dramatiqs})")


# The metrics: the private exposition handler and the middleware's families.


def test_the_private_metrics_handler_and_its_settings_are_where_the_exposition_override_expects():
    handler = getattr(prometheus, "_metrics_handler", None)
    relies(isinstance(handler, type) and issubclass(handler, BaseHTTPRequestHandler), EXPOSITION, "_metrics_handler")
    relies("do_GET" in handler.__dict__, EXPOSITION, "_metrics_handler.do_GET")
    relies(isinstance(getattr(prometheus, "DB_PATH", None), str), EXPOSITION, "prometheus.DB_PATH")
    relies(isinstance(getattr(prometheus, "HTTP_HOST", None), str), EXPOSITION, "prometheus.HTTP_HOST")
    relies(isinstance(getattr(prometheus, "HTTP_PORT", None), int), EXPOSITION, "prometheus.HTTP_PORT")
    relies("DB_PATH" in names_in(handler.do_GET), EXPOSITION, "_metrics_handler.do_GET reading DB_PATH")


def test_the_prometheus_middleware_has_the_families_and_forks_our_metrics_replace():
    relies(isinstance(prometheus.Prometheus.__dict__.get("forks"), property), METRICS, "Prometheus.forks (property)")
    assigned = {
        node.attr
        for node in ast.walk(source_tree(prometheus.Prometheus.after_process_boot))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
    }
    ours = DramatiqMetrics()
    replaced = {name for name in assigned if hasattr(ours, name)}
    relies(assigned == replaced, METRICS, f"the families Prometheus.after_process_boot defines ({sorted(assigned)})")
    relies(
        ("observe", ()) in calls_in(prometheus.Prometheus.after_process_message),
        METRICS,
        "message_durations observed (in milliseconds) in after_process_message",
    )


def test_the_rabbitmq_broker_declares_its_queues_and_nodes_as_the_queue_types_and_make_broker_expect():
    for name in ("_build_queue_arguments", "_declare_queue", "_declare_dq_queue", "_declare_xq_queue"):
        relies(parameters(getattr(RabbitmqBroker, name, None)) == ["self", "queue_name"], QUEUES, f"{name}(queue_name)")
    called = {name for name, _ in calls_in(RabbitmqBroker._ensure_queue)}
    relies({"_declare_queue", "_declare_dq_queue", "_declare_xq_queue"} <= called, QUEUES, "_ensure_queue's declares")
    for declare in (RabbitmqBroker._declare_queue, RabbitmqBroker._declare_dq_queue):
        relies("_build_queue_arguments" in names_in(declare), QUEUES, f"{declare.__name__} building its arguments")
    relies("DEAD_MESSAGE_TTL" in names_in(RabbitmqBroker._declare_xq_queue), QUEUES, "the .XQ queue's DEAD_MESSAGE_TTL")
    broker = RabbitmqBroker(url=["amqp://guest:guest@a:5672/", "amqp://guest:guest@b:5673/"], max_priority=5)
    relies(broker._build_queue_arguments("q").get("x-max-priority") == 5, QUEUES, "x-max-priority from max_priority")
    relies([p.host for p in broker.parameters] == ["a", "b"], BROKER, "RabbitmqBroker(url=[...]), one a node")
    relies("parameters" in names_in(_RabbitmqConsumer.__init__), CONSUMER, "the consumer using broker.parameters")
