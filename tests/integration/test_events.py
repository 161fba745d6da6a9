"""Job-finished notifications across processes: pg_notify at commit, relayed by the listener thread."""

import uuid

import pytest

from db import Job, Status, database
from db.events import JobEvents, PostgresListener, announce

pytestmark = pytest.mark.integration


@pytest.fixture
def hub(postgres):
    """A hub of waiters fed by a real listener on the test database."""
    hub = JobEvents()
    params = {"dbname": postgres.database, **{k: postgres.connect_params[k] for k in ("host", "port", "user")}}
    listener = PostgresListener(params, hub)
    listener.start()
    try:
        assert listener.listening.wait(5)
        yield hub
    finally:
        listener.stop()
        listener.join(5)


def test_a_finished_job_announced_in_a_transaction_reaches_a_listener_at_commit(hub):
    job_id = uuid.uuid4()
    with hub.waiting(job_id) as finished:
        with database.atomic():
            announce([job_id, uuid.uuid4()])
            assert not finished.wait(0.3)  # nothing before commit
        assert finished.wait(5)


def test_a_batch_finished_without_webhooks_announces_itself_in_its_one_statement(hub):
    jobs = Job.claim_fresh([Job.create(model="m", task="feature-extraction", inputs=[str(i)]).id for i in range(2)])
    with hub.waiting(jobs[0].id) as first, hub.waiting(jobs[1].id) as second:
        written = Job.finish_many(
            [(job, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]}) for job in jobs]
        )
        assert sorted(map(str, written)) == sorted(str(job.id) for job in jobs)
        assert not database.in_transaction()  # nothing left open: the statement committed by itself
        assert first.wait(5) and second.wait(5)
