"""Job-finished notifications across processes: pg_notify at commit, relayed by the listener thread."""

import uuid

import pytest

from db import Job, Status, database
from db.events import JobEvents, PostgresListener, announce

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


@pytest.fixture
def hub(postgres, reads):
    """A hub of waiters fed by a real listener on the test database, which reads finished jobs for them."""
    hub = JobEvents()
    params = {"dbname": postgres.database, **{k: postgres.connect_params[k] for k in ("host", "port", "user")}}
    listener = PostgresListener(params, hub, read=reads)
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


def test_the_relay_reads_the_jobs_of_a_batch_once_for_all_their_waiters(hub, reads):
    jobs = Job.claim_fresh([Job.create(model="m", task="feature-extraction", inputs=[str(i)]).id for i in range(3)])
    waited = sorted(jobs[:2], key=lambda job: str(job.id))
    with hub.waiting(waited[0].id) as first, hub.waiting(waited[1].id) as second:
        Job.finish_many([(job, {"status": Status.SUCCEEDED, "output": [{"embedding": [1.0]}]}) for job in jobs])
        assert first.wait(5) and second.wait(5)
        assert [first.job.id, second.job.id] == [job.id for job in waited]
        assert first.job.status == second.job.status == Status.SUCCEEDED and first.job.output == [{"embedding": [1.0]}]
    assert reads.calls == [sorted(str(job.id) for job in waited)]  # one read, and not the job nobody waited for
