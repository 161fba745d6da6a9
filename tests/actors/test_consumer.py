"""The broker's channel can always be dropped (a unit test of `CoalescingRabbitmqBroker`'s deleter; the
coalesced acks are tested against RabbitMQ in tests/integration/test_coalesced_acks.py)."""

from dramatiq.brokers.rabbitmq import RabbitmqBroker

from actors.consumer import CoalescingRabbitmqBroker


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
