"""`create_app` has no side effects: a test, or a second app, can build it freely."""

import threading
from dataclasses import replace

import dramatiq
from dramatiq.brokers.stub import StubBroker

from web import create_app


def test_building_apps_starts_no_thread_and_leaves_dramatiqs_global_broker_alone(config, database, catalog):
    sentinel = StubBroker()
    dramatiq.set_broker(sentinel)
    threads = set(threading.enumerate())
    for broker_url in ("stub://", "amqp://guest:guest@127.0.0.1:1/"):  # the RabbitMQ one is never contacted
        create_app(replace(config, broker_url=broker_url), catalog=catalog)
    assert set(threading.enumerate()) == threads
    assert dramatiq.get_broker() is sentinel


def test_a_domain_error_is_mapped_by_its_own_class_not_by_the_order_of_a_chain():
    from core.errors import InvalidRequest, Overloaded, PayloadTooLarge, Unavailable
    from web.errors import HTTP_ERRORS

    assert HTTP_ERRORS[PayloadTooLarge](PayloadTooLarge("big")).status_code == 413
    assert HTTP_ERRORS[InvalidRequest](InvalidRequest("bad", field="inputs")).field == "inputs"
    too_many = HTTP_ERRORS[Overloaded](Overloaded("busy", retry_after=7))
    assert (too_many.status_code, too_many.headers["Retry-After"]) == (429, "7")
    assert HTTP_ERRORS[Unavailable](Unavailable("down")).status_code == 503
