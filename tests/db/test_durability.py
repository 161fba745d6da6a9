"""A message is acked only once its job's outcome is durably saved: on PostgreSQL every session commits
synchronously, whatever the server's default, and only a batch's claim opts out, for its own transaction
(a lost claim leaves the job queued and its message unacked: it is delivered again)."""

from __future__ import annotations

from db import Job, Status
from db.batch import CLAIM
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
    assert [sql for sql in run if "synchronous_commit TO" in sql] == [CLAIM]  # the claim alone opts out


@postgresql_only
def test_a_server_that_commits_asynchronously_by_default_still_gets_durable_saves(database):
    name = database.execute_sql("SELECT current_database()").fetchone()[0]
    database.execute_sql(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    try:
        database.close_all()  # new sessions take the database's default
        assert synchronous_commit(database) == "on"  # our connection's option wins
    finally:
        database.execute_sql(f'ALTER DATABASE "{name}" RESET synchronous_commit')
