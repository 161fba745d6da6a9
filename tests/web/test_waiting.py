"""Waiting for the result in the same call: Prefer: wait=N on POST and ?wait=N on GET."""

import threading
import time

import peewee
import pytest
from dramatiq import Message
from falcon.testing import TestClient

from actors import hints
from actors.registry import Runtimes
from actors.setup import worker_sender
from db import Job, Status
from db.events import JobEvents
from tests.processes import wait_until
from web import create_app
from web.waiting import Waiter, preferred_wait


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("wait=5", 5),
        ("respond-async, wait=10", 10),
        ("wait=600", 60),  # capped
        ('wait="3"', 3),
        ("wait=soon", None),  # unreadable preferences are ignored (RFC 7240)
        ("wait=-1", None),
        ("handling=lenient", None),
    ],
)
def test_the_wait_preference_is_read_from_the_prefer_header(header, seconds):
    assert preferred_wait(header) == seconds


@pytest.fixture
def served(config, database, catalog, models_dir, stub_worker):
    """The API and an in-process worker with the real model, as in the embedded mode."""
    actors = worker_sender("stub://", Runtimes(catalog, models_dir))
    stub_worker(actors.broker, threads=4)
    return TestClient(create_app(config, sender=actors, catalog=catalog))


@pytest.mark.slow
def test_post_with_prefer_wait_answers_200_with_the_finished_job(served):
    response = served.simulate_post("/inference", json={"inputs": "Vai Corinthians"}, headers={"Prefer": "wait=10"})
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=10"
    assert response.json["status"] == "succeeded"
    assert len(response.json["output"][0]["embedding"]) == 384
    assert response.headers["location"] == f"/inference/{response.json['id']}"


def test_post_with_prefer_wait_answers_202_when_the_job_is_not_done_in_time(client):
    started = time.monotonic()
    response = client.simulate_post("/inference", json={"inputs": "x"}, headers={"Prefer": "wait=1"})
    assert response.status_code == 202
    assert response.json["status"] == "queued"
    assert response.headers["preference-applied"] == "wait=1"
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize(
    ("prefer", "awaited"), [({"Prefer": "wait=1"}, True), ({"Prefer": "wait=0"}, False), ({}, False)]
)
def test_a_job_is_recorded_as_awaited_only_when_its_request_waits_for_it(client, prefer, awaited):
    """An awaited job's notification carries its finished row (`db.batch`); no one else's needs to."""
    job_id = client.simulate_post("/inference", json={"inputs": "x"}, headers=prefer).json["id"]
    assert Job.get_by_id(job_id).awaited is awaited


def sent_messages(sender_stub) -> list[Message]:
    queue = sender_stub.broker.queues[sender_stub.actor.queue_name]
    return [Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]


def test_the_message_of_a_lone_waited_job_carries_its_fields_as_a_hint_that_matches_its_row(client, sender_stub):
    """The worker may run the job on them while it claims the row (`actors.hints`): they must be the row's."""
    body = {"inputs": ["Vai Corinthians", "Bom dia"], "parameters": {"normalize": False}}
    job_id = client.simulate_post("/inference", json=body, headers={"Prefer": "wait=1"}).json["id"]
    [message] = sent_messages(sender_stub)
    assert list(message.args) == [job_id]
    assert hints.matches(Job.get_by_id(job_id), message.options[hints.OPTION])


@pytest.mark.parametrize(
    ("body", "prefer"),
    [
        ({"inputs": "x"}, {}),  # nobody waits for it
        ({"inputs": "x" * hints.MAX_INPUT_BYTES}, {"Prefer": "wait=1"}),  # too long to carry
    ],
)
def test_no_hint_travels_with_a_job_nobody_waits_for_or_with_long_inputs(client, sender_stub, body, prefer):
    client.simulate_post("/inference", json=body, headers=prefer)
    [message] = sent_messages(sender_stub)
    assert hints.OPTION not in message.options


def test_get_with_wait_returns_as_soon_as_the_job_finishes(client):
    job_id = client.simulate_post("/inference", json={"inputs": "x"}).json["id"]

    def finish_soon():
        time.sleep(0.3)
        Job.claim(job_id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])

    threading.Thread(target=finish_soon).start()
    started = time.monotonic()
    response = client.simulate_get(f"/inference/{job_id}", params={"wait": "20"})
    assert response.json["status"] == "succeeded"
    assert time.monotonic() - started < 5  # woken by the event, not by the 20 s timeout


def test_a_job_finished_between_its_read_and_the_wait_is_answered_at_once(database):
    job = Job.create(model="m", task="feature-extraction", inputs=["x"])  # as read: queued
    Job.claim(job.id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])  # announced before the wait
    started = time.monotonic()
    current, waited = Waiter(max_waiters=1).wait(job, 10)
    assert waited and current.status == "succeeded"
    assert time.monotonic() - started < 1  # not after the 2 s re-read: the hub remembered the announcement


def test_a_waiter_handed_its_job_by_the_relay_does_not_read_it_again(database, monkeypatch):
    hub, job = JobEvents(), Job.create(model="m", task="feature-extraction", inputs=["x"])
    Job.claim(job.id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    done = Job.get_by_id(job.id)
    monkeypatch.setattr(Job, "find", lambda *args: pytest.fail("read again"))
    threading.Timer(0.1, hub.publish, args=([job.id], {str(job.id): done})).start()
    current, waited = Waiter(max_waiters=1, hub=hub).wait(job, 5)
    assert waited and current is done


@pytest.mark.parametrize("awaited", [True, False])
def test_a_job_not_yet_awaited_is_marked_once_its_waiter_listens_and_before_it_sleeps(database, monkeypatch, awaited):
    """The mark returns the job as it stands: finished, it is answered at once (the race with its save on
    PostgreSQL: tests/integration/test_events.py)."""
    hub, job = JobEvents(), Job.create(model="m", task="feature-extraction", inputs=["x"], awaited=awaited)
    done = Job.get_by_id(job.id)
    done.status = Status.SUCCEEDED
    marks = []

    def mark_awaited(job_id):
        marks.append(hub.waited([job_id]))  # registered for its notification already
        return done

    monkeypatch.setattr(Job, "mark_awaited", mark_awaited)
    current, waited = Waiter(max_waiters=1, hub=hub).wait(job, 0.3)
    assert waited
    if awaited:  # its notification comes anyway: nothing to mark
        assert (marks, current.status) == ([], Status.QUEUED)
    else:
        assert (marks, current) == ([[str(job.id)]], done)


def test_an_invalid_wait_parameter_is_refused_by_name(client):
    job_id = client.simulate_post("/inference", json={"inputs": "x"}).json["id"]
    response = client.simulate_get(f"/inference/{job_id}", params={"wait": "61"})
    assert response.status_code == 400
    assert "wait" in response.json["description"]


def test_when_every_wait_slot_is_taken_a_request_is_answered_at_once(database):
    job = Job.create(model="m", task="feature-extraction", inputs=["x"])
    waiter = Waiter(max_waiters=1)
    holder = threading.Thread(target=waiter.wait, args=(job, 1.5))
    holder.start()
    time.sleep(0.2)
    started = time.monotonic()
    _, waited = waiter.wait(job, 10)
    assert waited is False and time.monotonic() - started < 0.5
    holder.join()
    _, waited = waiter.wait(job, 0.2)
    assert waited is True  # the slot is free again


def test_shutting_down_wakes_every_waiting_request_with_the_job_as_it_stands(database):
    from web.waiting import Stopping

    stopping = Stopping()
    waiter = Waiter(max_waiters=4, hub=JobEvents(), stopping=stopping)
    job = Job.create_many([{"model": "m", "task": "feature-extraction", "inputs": ["a"]}])[0]
    answers = []
    sleeper = threading.Thread(target=lambda: answers.append(waiter.wait(job, 60)))
    sleeper.start()
    wait_until(lambda: waiter._slots._value < 4, 10, "the request waiting")
    stopping.begin()
    sleeper.join(5)
    assert answers and answers[0][0].status == Status.QUEUED and answers[0][1] is True


@pytest.fixture
def inserts(monkeypatch) -> list:
    """`durable` of each group the API inserts, and the jobs it makes durable, from now on."""
    made, create_many, make_durable = [], Job.create_many.__func__, Job.make_durable.__func__

    def creating(cls, rows, *, durable=True):
        made.append(durable)
        return create_many(cls, rows, durable=durable)

    def making(cls, job):
        made.append(("made durable", job.durable))
        return make_durable(cls, job)

    monkeypatch.setattr(Job, "create_many", classmethod(creating))
    monkeypatch.setattr(Job, "make_durable", classmethod(making))
    return made


@pytest.mark.parametrize(
    ("prefer", "key", "durable"),
    [({"Prefer": "wait=1"}, None, False), ({"Prefer": "wait=1"}, "k1", True), ({}, None, True)],
)
def test_only_a_waiting_request_without_a_key_inserts_its_job_without_waiting_for_the_disk(
    client, inserts, prefer, key, durable
):
    """Its answer waits instead: a job that does not finish in time is made durable before its 202 names it; a
    keyed one is durable at once (a replay may read it), so is one nobody waits for (its 202 comes at once)."""
    headers = {**prefer, **({"Idempotency-Key": key} if key else {})}
    response = client.simulate_post("/inference", json={"inputs": "x"}, headers=headers)
    assert response.status_code == 202 and response.headers["location"] == f"/inference/{response.json['id']}"
    assert inserts[0] is durable
    assert (("made durable", False) in inserts) is not durable  # written again to disk before the answer named it


def test_a_job_not_on_disk_when_the_database_fails_mid_wait_is_never_named(client, monkeypatch):
    """503, no Location: a crash may still lose it, so nobody may be told of it; it may still run. (A job the
    database can still write to disk is answered 202, named: `test_accepted_answers.py`.)"""

    def failing(*args, **kwargs):
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Waiter, "wait", failing)
    monkeypatch.setattr(Job, "make_durable", classmethod(lambda cls, job: job if job.durable else failing()))
    response = client.simulate_post("/inference", json={"inputs": "x"}, headers={"Prefer": "wait=5"})
    assert response.status_code == 503
    assert "location" not in response.headers and "saved to disk" in response.json["description"]
    keyed = client.simulate_post(
        "/inference", json={"inputs": "x"}, headers={"Prefer": "wait=5", "Idempotency-Key": "k"}
    )
    assert keyed.status_code == 202  # on disk: accepted, and named
    assert keyed.headers["location"] == f"/inference/{keyed.json['id']}"


def test_a_request_refused_a_wait_slot_is_answered_once_its_job_is_on_disk(database, inserts):
    job = Job.create_many([{"model": "m", "task": "feature-extraction", "inputs": ["x"]}], durable=False)[0]
    waiter = Waiter(max_waiters=1)
    with waiter.slot() as held:
        assert held
        answered, waited = waiter.wait(job, 10)
    assert waited is False and answered.durable and ("made durable", False) in inserts
