"""Job-finished notifications across processes: pg_notify at commit, relayed by the listener thread, for the
jobs a request waits for (what is announced and what is not: tests/db/test_awaited.py)."""

import contextlib
import threading
from dataclasses import replace

import pytest
from falcon.testing import TestClient

from actors.sending import open_sender
from db import Job, Status, database, events
from db.events import JobEvents, PostgresListener, announce
from db.jobs import moves
from db.views import job_view
from tests.processes import wait_until
from web import create_app, waiting
from web.waiting import Waiter

pytestmark = pytest.mark.integration


class CountedRead:
    """`Job.find_many`, counting its calls."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, ids: list[str]) -> list[Job]:
        self.calls.append(sorted(ids))
        return Job.find_many(ids)


@pytest.fixture
def reads():
    return CountedRead()


@contextlib.contextmanager
def relaying(postgres, hub: JobEvents, read=None):
    """A real listener on the test database relaying to `hub`, reading finished jobs with `read`."""
    params = {"dbname": postgres.database, **{k: postgres.connect_params[k] for k in ("host", "port", "user")}}
    listener = PostgresListener(params, hub, read=read, build=Job.from_row_json)
    listener.start()
    try:
        assert listener.listening.wait(5)
        yield listener
    finally:
        listener.stop()
        listener.join(5)


@pytest.fixture
def hub(postgres, reads):
    """A hub of waiters fed by a real listener on the test database, which reads finished jobs for them."""
    hub = JobEvents()
    with relaying(postgres, hub, reads):
        yield hub


def awaited_job(inputs="x") -> Job:
    """A job created as a request that waits for it creates it (`Prefer: wait`, POST /v1/embeddings)."""
    return Job.create(model="m", task="feature-extraction", inputs=inputs, awaited=True)


def test_a_finished_job_announced_in_a_transaction_reaches_a_listener_at_commit(hub):
    job_id = awaited_job().id
    with hub.waiting(job_id) as finished:
        with database.atomic():
            announce([job_id])
            assert not finished.wait(0.3)  # nothing before commit
        assert finished.wait(5)


def test_a_batch_finished_without_webhooks_announces_itself_in_its_one_statement(hub):
    jobs = Job.claim_fresh([awaited_job([str(i)]).id for i in range(2)])
    with hub.waiting(jobs[0].id) as first, hub.waiting(jobs[1].id) as second:
        written = Job.finish_many(
            [(job, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]}) for job in jobs]
        )
        assert sorted(map(str, written)) == sorted(str(job.id) for job in jobs)
        assert not database.in_transaction()  # nothing left open: the statement committed by itself
        assert first.wait(5) and second.wait(5)


def test_a_batch_s_notifications_carry_its_awaited_jobs_as_a_read_would_give_them(hub, reads):
    texts = ["one", ["two", "three"], "four"]  # a list and a text: JSON columns come back as stored
    ids = [awaited_job(text).id for text in texts]
    jobs = Job.claim_fresh(ids)
    outputs = [[{"embedding": [0.5 * i, -1.25], "tokens": i}] for i in range(len(jobs))]
    with contextlib.ExitStack() as stack:
        waits = [stack.enter_context(hub.waiting(job.id)) for job in jobs]
        Job.finish_many(
            [
                (job, {"status": Status.SUCCEEDED, "output": out, "inference_ms": 1.5})
                for job, out in zip(jobs, outputs, strict=True)
            ]
        )
        assert all(finished.wait(5) for finished in waits)
    assert reads.calls == []  # every job came with its notification
    for job, finished, output in zip(jobs, waits, outputs, strict=True):
        read = Job.get_by_id(job.id)  # as peewee reads it
        assert finished.job.__data__ == {**read.__data__, "vectors": bytes(read.vectors)}  # psycopg2: a memoryview
        assert finished.job.output == read.output == output and finished.job.status == Status.SUCCEEDED
        assert job_view(finished.job) == job_view(read)


def test_the_relay_reads_the_jobs_announced_by_id_once_for_all_their_waiters(hub, reads):
    long = "many words " * 800  # its row is over the 8,000 bytes a notification can take: its id only
    too_long = [awaited_job([f"{i} {long}"]).id for i in range(3)]
    jobs = Job.claim_fresh(too_long)
    waited = sorted((job for job in jobs if job.id in too_long[:2]), key=lambda job: str(job.id))
    with hub.waiting(waited[0].id) as first, hub.waiting(waited[1].id) as second:
        Job.finish_many([(job, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]}) for job in jobs])
        assert first.wait(5) and second.wait(5)
        assert [first.job.id, second.job.id] == [job.id for job in waited]
        assert first.job.status == second.job.status == Status.SUCCEEDED and first.job.output == [{"embedding": [1.0]}]
    assert reads.calls == [sorted(str(job.id) for job in waited)]  # one read, and not the job no waiter here waits for


@pytest.fixture
def api(postgres, config, catalog, models_dir):
    """The API on the test database, its jobs' messages left on a stub broker: the test is the worker."""
    sender = open_sender("stub://")
    yield TestClient(create_app(replace(config, models_dir=models_dir), sender=sender, catalog=catalog))
    sender.broker.flush_all()


def test_a_get_with_wait_on_a_job_posted_without_waiting_is_answered_by_its_notification(api, postgres, monkeypatch):
    monkeypatch.setattr(waiting, "RECHECK", 600.0)  # no re-read within the wait: only a notification can wake it
    monkeypatch.setattr(moves, "events", JobEvents())  # the worker as another process: nothing published here
    job_id = api.simulate_post("/inference", json={"inputs": "x"}).json["id"]
    [running] = Job.claim_fresh([job_id])
    assert running.awaited is False  # as the worker holds it: its save reads the row's own

    def finish_once_awaited():
        try:
            wait_until(lambda: Job.get_by_id(job_id).awaited, 10, "the GET marking its job awaited")
            Job.finish_many([(running, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]})])
        finally:
            database.close()

    worker = threading.Thread(target=finish_once_awaited)
    with relaying(postgres, events.events):  # the API process' relay, to its waiters
        worker.start()
        response = api.simulate_get(f"/inference/{job_id}", params={"wait": "20"})
        worker.join(10)
    assert response.status_code == 200
    assert response.json["status"] == "succeeded"  # within its wait: else it would answer `running` after 20 s
    assert response.json["output"] == [{"embedding": [1.0]}]


def test_a_waiter_whose_job_finished_unannounced_since_it_was_read_is_answered_at_once(postgres, monkeypatch):
    """The race the mark closes: the save committed before the request marked its job awaited, so no
    notification comes; the mark returns the finished row."""
    monkeypatch.setattr(waiting, "RECHECK", 600.0)
    job = Job.create(model="m", task="feature-extraction", inputs=["x"])  # as the GET read it: queued
    [running] = Job.claim_fresh([job.id])
    Job.finish_many([(running, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]})])
    monkeypatch.setattr(Job, "find", lambda *args: pytest.fail("read after the wait: the mark did not answer"))
    current, waited = Waiter(max_waiters=1, hub=JobEvents()).wait(job, 5)  # a hub nothing publishes to
    assert waited and current.status == Status.SUCCEEDED and current.output == [{"embedding": [1.0]}]
    assert Job.get_by_id(job.id).awaited is True
