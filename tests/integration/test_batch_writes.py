"""A batch's outcomes are written in one statement on PostgreSQL, guarded like one job at a time; a group of
new jobs is inserted in one statement."""

import datetime as dt
import uuid

import pytest

from db import Failure, Job, Status
from db.batch import CLAIM, NOTICE, SQL

pytestmark = pytest.mark.integration


def test_a_batch_of_outcomes_is_written_once_and_skips_a_job_canceled_meanwhile(postgres):
    jobs = Job.claim_fresh([Job.create(model="m", task="feature-extraction", inputs=[str(i)]).id for i in range(3)])
    ok, failed, canceled = sorted(jobs, key=lambda job: job.inputs)
    assert Job.cancel(canceled.id)
    outcomes = [
        (ok, {"status": Status.SUCCEEDED, "output": [{"embedding": [0.25, -1.5], "tokens": 3}], "inference_ms": 4.5}),
        (failed, {"status": Status.FAILED, "failure": Failure.MODEL_ERROR, "error": "ModelError: no"}),
        (canceled, {"status": Status.SUCCEEDED, "output": [{"embedding": [9.0]}], "inference_ms": 1.0}),
    ]
    written = Job.finish_many(outcomes)
    assert sorted(map(str, written)) == sorted([str(ok.id), str(failed.id)])
    stored = {job.id: job for job in Job.select()}
    assert (stored[ok.id].status, stored[ok.id].output) == (
        Status.SUCCEEDED,
        [{"embedding": [0.25, -1.5], "tokens": 3}],
    )
    assert stored[ok.id].inference_ms == 4.5 and stored[ok.id].queue_ms >= 0 and stored[ok.id].finished_at
    assert (stored[failed.id].status, stored[failed.id].failure) == (Status.FAILED, Failure.MODEL_ERROR)
    assert stored[canceled.id].status == Status.CANCELED and stored[canceled.id].output is None
    assert Job.finish_many(outcomes[:2]) == []  # a redelivered batch writes nothing twice


def test_a_claim_reads_back_whole_jobs_and_its_setting_ends_with_it(postgres):
    created = Job.create(model="m", task="feature-extraction", inputs=["a", "b"], parameters={"normalize": False})
    [claimed] = Job.claim_fresh([created.id])
    stored = Job.get_by_id(created.id)
    assert claimed.__data__ == stored.__data__  # same types as a select: UUID, lists, dicts, datetimes
    assert (claimed.status, claimed.attempts) == (Status.RUNNING, 1)
    setting = postgres.execute_sql("SELECT current_setting('synchronous_commit')").fetchone()[0]
    assert setting == "on"  # SET LOCAL: the claim's transaction only, never the pooled connection
    assert Job.claim_fresh([created.id]) == []  # started already: left to `claim`


def test_a_batch_claim_takes_only_queued_jobs_never_started(postgres):
    fresh, started, canceled = (Job.create(model="m", task="feature-extraction", inputs=[t]) for t in "abc")
    Job.claim(started.id)
    Job.cancel(canceled.id)
    claimed = Job.claim_fresh([fresh.id, started.id, canceled.id, uuid.uuid4()])
    assert [job.id for job in claimed] == [fresh.id]
    assert (Job.get_by_id(started.id).attempts, Job.get_by_id(canceled.id).status) == (1, Status.CANCELED)


def test_find_reads_a_job_as_a_select_does_and_only_for_its_owner(postgres):
    job = Job.create(model="m", task="feature-extraction", inputs=["a"], parameters={"normalize": False}, owner="k1")
    Job.finish_many([(Job.claim_fresh([job.id])[0], {"status": Status.SUCCEEDED, "output": [{"embedding": [0.5]}]})])
    assert Job.find(job.id).__data__ == Job.get_by_id(job.id).__data__  # vectors and all
    assert Job.find(str(job.id), "k1").output == [{"embedding": [0.5]}]
    assert Job.find(job.id, "k2") is None and Job.find(uuid.uuid4()) is None


def test_a_group_insert_reads_back_as_jobs_created_one_by_one(postgres, monkeypatch):
    monkeypatch.setattr(Job, "insert_many", None)  # PostgreSQL takes the cached statement, not peewee's insert
    fields = {"model": "m", "task": "feature-extraction", "parameters": {"normalize": False}, "owner": "k1"}
    rows = [
        {**fields, "inputs": ["plain"]},
        {**fields, "inputs": ["hooked", "twice"], "webhook": "https://example.com/h", "webhook_events": "failed",
         "idempotency_key": "key-1", "request_hash": "ab" * 32},
    ]  # fmt: skip
    jobs = Job.create_many(rows)
    alone = Job.get_by_id(Job.create(**fields, inputs=["alone"]).id).__data__
    for job, row in zip(jobs, rows, strict=True):
        assert Job.get_by_id(job.id).__data__ == {**alone, **row, "id": job.id, "created_at": job.created_at}
    assert Job.create_many(rows[:1])[0].status == Status.QUEUED  # another shape: its own statement


def test_a_batch_claim_and_save_find_their_rows_by_id_never_by_the_pending_index(postgres):
    """The pending index holds an entry for every queued or running version a job went through until a vacuum: a
    claim or a save that used it would visit them all (see `db.batch`)."""
    postgres.execute_sql("SET enable_seqscan TO off")  # a small table would be scanned whole anyway
    try:
        now = dt.datetime.now()
        claim = CLAIM.split(";", 1)[1]
        plans = [
            postgres.execute_sql(f"EXPLAIN {claim}", (Status.RUNNING, now, now, [str(uuid.uuid4())], Status.QUEUED)),
            postgres.execute_sql(
                f"EXPLAIN {SQL.format(rows='(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)', returning=NOTICE)}",
                (str(uuid.uuid4()), 1, Status.SUCCEEDED, "[]", None, None, None, now, 1.0, 1.0, Status.RUNNING),
            ),
        ]
        for plan in plans:
            text = "\n".join(row[0] for row in plan.fetchall())
            assert "job_pkey" in text and "job_pending_status_model" not in text, text
    finally:
        postgres.execute_sql("RESET enable_seqscan")
