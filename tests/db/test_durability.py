"""A message is acked only once its job's outcome is durably saved: on PostgreSQL every session commits
synchronously, whatever the server's default. A batch's claim opts out, for its own transaction (a lost claim
leaves the job queued and its message unacked: it is delivered again), and so does the insert of jobs whose
requests wait for them, each made durable before anyone is told of it unfinished (`Job.make_durable`)."""

from __future__ import annotations

from db import Job, Status
from db.batch import CLAIM, UNSYNCHRONIZED
from db.dialects import MAKE_DURABLE
from tests.db.dialects import postgresql_only


def synchronous_commit(database) -> str:
    return database.execute_sql("SHOW synchronous_commit").fetchone()[0]


@postgresql_only
def test_the_save_after_a_claim_commits_synchronously_on_the_same_connection(database, monkeypatch):
    jobs = Job.create_many([{"model": "m", "task": "feature-extraction", "inputs": [f"t{i}"]} for i in range(3)])
    run: list[str] = []
    execute = database.execute_sql

    def recorded(sql, *args, **kwargs):
        run.append(sql)
        return execute(sql, *args, **kwargs)

    with database.connection_context():
        monkeypatch.setattr(database, "execute_sql", recorded)
        claimed = Job.claim_fresh([job.id for job in jobs])
        assert synchronous_commit(database) == "on"  # the claim's SET LOCAL ended with its transaction
        saved = Job.finish_many([(job, {"status": Status.SUCCEEDED, "output": [{"n": 1}]}) for job in claimed])
        assert synchronous_commit(database) == "on"
    assert len(saved) == 3
    assert [sql for sql in run if "synchronous_commit TO" in sql] == [CLAIM]  # of the two, the claim alone opts out


@postgresql_only
def test_a_server_that_commits_asynchronously_by_default_still_gets_durable_saves(database):
    name = database.execute_sql("SELECT current_database()").fetchone()[0]
    database.execute_sql(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    try:
        database.close_all()  # new sessions take the database's default
        assert synchronous_commit(database) == "on"  # our connection's option wins
    finally:
        database.execute_sql(f'ALTER DATABASE "{name}" RESET synchronous_commit')


def awaited_rows(n: int) -> list[dict]:
    return [{"model": "m", "task": "feature-extraction", "inputs": [f"t{i}"], "awaited": True} for i in range(n)]


@postgresql_only
def test_jobs_inserted_without_waiting_for_the_disk_say_so_and_leave_the_session_synchronous(database, statements_run):
    jobs = Job.create_many(awaited_rows(2), durable=False)
    assert [job.durable for job in jobs] == [False, False]
    assert len(statements_run) == 1 and statements_run[0].startswith(UNSYNCHRONIZED)  # one round trip
    assert synchronous_commit(database) == "on"  # the SET LOCAL ended with the insert's transaction
    assert {job.id for job in Job.find_many([job.id for job in jobs])} == {job.id for job in jobs}  # committed
    assert Job.get_by_id(jobs[0].id).durable  # a job read back is durable: only the inserting request may not know


@postgresql_only
def test_made_durable_once_the_log_is_flushed_past_the_insert(database, statements_run):
    [job] = Job.create_many(awaited_rows(1), durable=False)
    inserted = database.execute_sql("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    assert Job.make_durable(job) is job and job.durable
    assert statements_run[-1] == MAKE_DURABLE  # a write, in a transaction that waits for the disk
    behind = database.execute_sql("SELECT pg_wal_lsn_diff(%s, pg_current_wal_flush_lsn())", [inserted]).fetchone()[0]
    assert behind <= 0  # the flush reached past the insert's commit
    assert Job.get_by_id(job.id).awaited and Job.get_by_id(job.id).status == Status.QUEUED  # nothing else changed
    Job.make_durable(job)
    assert statements_run.count(MAKE_DURABLE) == 1  # durable already: nothing to write


@postgresql_only
def test_jobs_inserted_durably_by_default(statements_run):
    jobs = Job.create_many(awaited_rows(1))
    assert jobs[0].durable
    assert not any("synchronous_commit" in sql for sql in statements_run)
    Job.make_durable(jobs[0])
    assert MAKE_DURABLE not in statements_run
