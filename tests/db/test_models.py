import uuid

from db import Failure, Job, Status


def new_job() -> Job:
    return Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["a"])


def test_a_new_job_is_queued_with_no_attempts(database):
    job = Job.get_by_id(new_job().id)
    assert (job.status, job.attempts, job.parameters, job.output) == (Status.QUEUED, 0, {}, None)


def test_claiming_marks_the_job_running_and_counts_the_attempt(database):
    job = new_job()
    claimed = Job.claim(job.id)
    assert claimed.status == Status.RUNNING
    assert claimed.attempts == 1
    assert claimed.started_at is not None
    assert Job.claim(job.id) is None  # a redelivery of a job whose lease holds: another worker is on it


def test_a_finished_job_is_never_claimed_again(database):
    job = Job.claim(new_job().id)
    assert job.finish(Status.SUCCEEDED, output=[{"x": 1}])
    assert Job.claim(job.id) is None
    assert Job.get_by_id(job.id).attempts == 1


def test_an_outcome_is_written_once(database):
    job = Job.claim(new_job().id)
    twin = Job.get_by_id(job.id)  # a second delivery holding the same row
    assert job.finish(Status.SUCCEEDED, output=[{"first": True}])
    assert not twin.finish(Status.SUCCEEDED, output=[{"second": True}])
    stored = Job.get_by_id(job.id)
    assert stored.output == [{"first": True}]
    assert stored.queue_ms is not None and stored.queue_ms >= 0


def test_an_unknown_job_cannot_be_claimed(database):
    assert Job.claim(uuid.uuid4()) is None


def test_a_queued_job_whose_message_was_refused_fails_as_never_enqueued_and_can_be_requeued(database):
    job = new_job()
    assert Job.not_enqueued(job.id)
    stored = Job.get_by_id(job.id)
    assert (stored.status, stored.failure, stored.never_enqueued) == (Status.FAILED, Failure.NOT_ENQUEUED, True)
    assert Job.claim(job.id) is None
    assert Job.requeue(job.id)
    assert (Job.get_by_id(job.id).status, Job.get_by_id(job.id).failure) == (Status.QUEUED, None)


def test_only_a_job_never_enqueued_goes_back_to_queued(database):
    job = new_job()
    assert Job.fail(job.id, Failure.LOST, "lost")
    assert not Job.requeue(job.id)
    assert Job.get_by_id(job.id).status == Status.FAILED


def test_a_running_job_is_not_marked_never_enqueued(database):
    job = Job.claim(new_job().id)
    assert not Job.not_enqueued(job.id)
    assert Job.get_by_id(job.id).status == Status.RUNNING


def test_jobs_created_together_read_back_as_created_one_by_one(database):
    fields = {"model": "m", "task": "feature-extraction", "parameters": {"normalize": False}, "owner": "k1"}
    jobs = Job.create_many([{**fields, "inputs": [f"text {n}"], "webhook": None} for n in range(3)])
    alone = Job.create(**fields, inputs=["alone"])
    for job in jobs:
        stored = Job.get_by_id(job.id)
        assert stored.__data__ == {**Job.get_by_id(alone.id).__data__, "id": job.id, "inputs": job.inputs,
                                   "created_at": job.created_at}  # fmt: skip
        assert (stored.status, stored.attempts, stored.sweeps) == (Status.QUEUED, 0, 0)


def test_find_reads_a_job_as_a_select_does_and_only_for_its_owner(database):
    job = Job.create(model="m", task="feature-extraction", inputs=["a"], parameters={"normalize": False}, owner="k1")
    assert Job.find(job.id).__data__ == Job.get_by_id(job.id).__data__
    assert Job.find(str(job.id), "k1").__data__ == Job.get_by_id(job.id).__data__  # an id as text too
    assert Job.find(job.id, "k2") is None  # another owner's job is not found
    assert Job.find(uuid.uuid4()) is None


def test_a_column_the_code_has_no_field_for_is_left_out_of_a_read(database):
    """A migration applied ahead of the code (a rolling upgrade) must not break the readers still running."""
    job = Job.create(model="m", task="feature-extraction", inputs=["a"])
    database.execute_sql("ALTER TABLE job ADD COLUMN from_the_future TEXT DEFAULT 'x'")
    assert Job.find(job.id).__data__ == Job.get_by_id(job.id).__data__


def test_find_many_reads_the_jobs_that_exist(database):
    jobs = [Job.create(model="m", task="feature-extraction", inputs=[t]) for t in "ab"]
    found = Job.find_many([jobs[0].id, uuid.uuid4(), jobs[1].id])
    assert sorted(job.inputs for job in found) == [["a"], ["b"]]
