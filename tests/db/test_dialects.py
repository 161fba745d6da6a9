"""The statements that differ by database are chosen once, when `db.connect` binds it (`db.dialects`):
no method asks which database it runs on, and PostgreSQL's hot paths are one statement each."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import db
from db import Job, Status, events, retention
from db.connection import statements
from db.dialects import PostgresStatements, SqliteStatements
from db.retention import Purger
from tests.db.dialects import postgresql_only, sqlite_only

DB = Path(db.__file__).parent
DIALECT_CHECK = re.compile(r"isinstance\([^)]*(Database|database)")


def new_jobs(n: int) -> list[Job]:
    return Job.create_many([{"model": "m", "task": "feature-extraction", "inputs": [f"t{i}"]} for i in range(n)])


def test_connecting_binds_the_statements_of_the_databases_dialect(database, request):
    expected = {"sqlite": SqliteStatements, "postgresql": PostgresStatements}[request.node.callspec.params["database"]]
    assert type(statements.obj) is expected
    assert statements.db is database


def test_no_module_of_db_asks_which_database_it_runs_on():
    """The migrations excepted: each is a frozen step of the schema, and one may be of one dialect only."""
    checks = [
        f"{path.relative_to(DB)}:{number}"
        for path in DB.rglob("*.py")
        if "migrations" not in path.relative_to(DB).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DIALECT_CHECK.search(line)
    ]
    assert checks == []


def test_find_writes_its_select_once_per_bound_database_and_reuses_it(database, statements_run):
    job = new_jobs(1)[0]
    statements_run.clear()
    assert Job.find(job.id).id == job.id
    assert Job.find(job.id, owner="someone else") is None
    assert Job.find(job.id).id == job.id
    assert statements_run[0] == statements_run[2] != statements_run[1]
    assert len(statements._select_one) == 2  # one text with the owner, one without


@postgresql_only
def test_on_postgresql_a_batch_is_inserted_claimed_and_saved_in_one_statement_each(database, statements_run):
    for _ in range(2):
        statements_run.clear()
        jobs = new_jobs(3)
        claimed = Job.claim_fresh([job.id for job in jobs])
        written = Job.finish_many([(job, {"status": Status.SUCCEEDED, "output": [{"n": 1}]}) for job in claimed])
        run = [sql.split()[0] for sql in statements_run]
        assert sorted(map(str, written)) == sorted(str(job.id) for job in jobs)
        assert [job.status for job in Job.find_many([job.id for job in jobs])] == [Status.SUCCEEDED] * 3
    # INSERT, the claim, the save that also announces (no BEGIN, no COMMIT), prepared by then (`db.prepared`)
    assert run == ["INSERT", "SET", "EXECUTE"]


@postgresql_only
def test_the_purger_returns_its_connection_to_the_pool_after_each_purge(database, monkeypatch):
    [job] = Job.claim_fresh([job.id for job in new_jobs(1)])
    assert job.finish(Status.SUCCEEDED, output=[])
    Job.update(finished_at=job.finished_at - dt.timedelta(hours=1)).where(Job.id == job.id).execute()
    purger, purge = Purger(every=0.01, ttl=60), retention.purge

    def purge_once(ttl: dt.timedelta) -> retention.PurgeReport:
        try:
            return purge(ttl)
        finally:
            purger.stopping.set()

    monkeypatch.setattr(retention, "purge", purge_once)
    purger.start()
    purger.join(5)
    assert not purger.is_alive()
    assert Job.get_by_id(job.id).purged_at is not None
    database.close()  # this thread's own connection
    assert database._in_use == {}  # the purger's went back to the pool


@sqlite_only
def test_an_sqlite_database_announces_nothing_beyond_this_process_and_relays_nothing(database, statements_run):
    [job] = Job.claim_fresh([job.id for job in new_jobs(1)])
    statements_run.clear()
    with events.events.waiting(job.id) as finished:
        assert Job.finish_many([(job, {"status": Status.SUCCEEDED, "output": []})]) == [job.id]
    assert finished.is_set()  # waiters of this process are told
    assert not any("notify" in sql.lower() for sql in statements_run)
    assert events.listen() is None
