"""Every place we extend or work around Dramatiq's internals, in one room.

- `broker`: `CoalescingRabbitmqBroker`, Dramatiq's RabbitMQ broker with our consumer (its `consumer_class`
  hook), a prefetch its dispatcher sets, and a channel deleter that cannot raise `KeyError`.
- `consumer`: `CoalescingConsumer`, a subclass of Dramatiq's private `_RabbitmqConsumer` that coalesces
  acks and follows its dispatcher's prefetch.
- `dispatch`: `Dispatch`, what Dramatiq's `Worker.process_message` does for a message, run from the
  consumer's thread into the batcher instead of from a worker thread.
- `publisher`: `SharedConnectionBroker`, one connection for every thread of a process that only sends,
  publishing to the queues as they exist.
- `queues`: `QueueTypes`, the queues declared as classic or quorum queues.
- `exposition`: Dramatiq's Prometheus exposition server, forgetting dead worker processes first.

Dramatiq is pinned to the minor version these were written against (setup.cfg), and each override has a
contract test naming what it relies on (tests/actors/rabbitmq/test_contracts.py; docs/internals.md).
Nothing is imported here: a process that only sends loads `broker`, `consumer`, `queues` and `publisher`
alone.
"""
