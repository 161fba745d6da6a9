"""The broker's channel can always be dropped (a unit test of `CoalescingRabbitmqBroker`'s deleter), and the
consumer's prefetch follows its dispatcher's; the coalesced acks and the prefetch are tested against
RabbitMQ in tests/integration/test_coalesced_acks.py and tests/integration/test_dispatch.py."""

import pika.exceptions
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.errors import ConnectionClosed

from actors.rabbitmq.broker import CoalescingRabbitmqBroker
from actors.rabbitmq.consumer import CoalescingConsumer


class ClosedChannel:
    is_open = False


def test_a_channel_whose_confirms_failed_before_it_was_registered_is_dropped_without_error():
    broker = CoalescingRabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/", confirm_delivery=True)
    channel = broker.state.channel = ClosedChannel()  # stored by the getter; never added to `channels`
    del broker.channel
    assert getattr(broker.state, "channel", None) is None
    assert channel not in broker.channels


def test_a_registered_channel_is_dropped_as_dramatiq_drops_it():
    broker = CoalescingRabbitmqBroker(url="amqp://guest:guest@127.0.0.1:1/", confirm_delivery=True)
    broker.state.channel = channel = ClosedChannel()
    broker.channels.add(channel)
    del broker.channel
    assert not broker.channels
    assert isinstance(broker, RabbitmqBroker) and getattr(broker.state, "channel", None) is None


class QosChannel:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.fail = fail

    def basic_qos(self, **options):
        if self.fail:
            raise self.fail
        self.calls.append(options)


def held(prefetch: int, channel) -> CoalescingConsumer:
    """A consumer as it is once consuming with `prefetch` (no connection: only its prefetch is exercised)."""
    consumer = CoalescingConsumer.__new__(CoalescingConsumer)
    consumer.prefetch, consumer.channel = prefetch, channel
    return consumer


def test_the_prefetch_follows_the_dispatcher_once_it_is_a_quarter_off_on_the_channel():
    channel = QosChannel()
    consumer = held(96, channel)
    consumer._follow_prefetch(80)  # within a quarter: not worth a round trip
    assert channel.calls == [] and consumer.prefetch == 96
    consumer._follow_prefetch(24)
    # the channel's limit: RabbitMQ applies a consumer's own only when it starts consuming
    assert channel.calls == [{"prefetch_count": 24, "global_qos": True}] and consumer.prefetch == 24
    consumer._follow_prefetch(96)
    assert channel.calls[-1] == {"prefetch_count": 96, "global_qos": True} and consumer.prefetch == 96


def test_a_prefetch_the_broker_cannot_take_closes_the_consumer_for_dramatiq_to_restart():
    consumer = held(96, QosChannel(fail=pika.exceptions.ConnectionClosedByBroker(320, "shutdown")))
    with pytest.raises(ConnectionClosed):
        consumer._follow_prefetch(12)
    assert consumer.prefetch == 96
