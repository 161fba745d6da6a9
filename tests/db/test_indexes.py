"""The job's queries read the index meant for them on a filled table, on both dialects: the plan names it. The
table holds what a deployment's does: mostly finished jobs, most of those purged, a few pending (queued,
running, failed as never enqueued) of several owners and models, some with an idempotency key. The bulk
lane's queries read a batch's jobs by key (or the pending ones by the pending index), never the whole table."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid

import peewee

from db import Failure, Job, Status, retention
from db.admission import queued_of
from db.base import utcnow
from db.bulk import BatchRequest, lane
from harness.statements import statements
from tests.doubles import make_batch

ROWS = 20_000
NOW = utcnow()


def fill(database: peewee.Database) -> None:
    rows = []
    for n in range(ROWS):
        created = NOW - dt.timedelta(seconds=ROWS - n)
        status = (Status.QUEUED, Status.RUNNING)[n % 2] if n >= ROWS - 40 else Status.SUCCEEDED
        finished = status == Status.SUCCEEDED
        rows.append(
            {
                "id": uuid.uuid4(),
                "model": ("m1", "m2")[n % 2],
                "task": "feature-extraction",
                "inputs": [],
                "parameters": {},
                "status": status,
                "owner": f"k{n % 4}",
                "created_at": created,
                "finished_at": created if finished else None,
                "purged_at": created if finished and n < ROWS // 2 else None,
                "lease_expires_at": NOW if status == Status.RUNNING else None,
                "idempotency_key": f"key-{n}" if n % 10 == 0 and n >= ROWS // 2 else None,
                "attempts": 1,
                "sweeps": 0,
            }
        )
    rows[ROWS // 2].update(status=Status.FAILED, failure=Failure.NOT_ENQUEUED)
    with database.atomic():
        for start in range(0, ROWS, 500):
            Job.insert_many(rows[start : start + 500]).execute()
    database.execute_sql("ANALYZE job" if isinstance(database, peewee.PostgresqlDatabase) else "ANALYZE")


def plans(database: peewee.Database, call) -> list[str]:
    """The plan of each statement `call` runs (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite)."""
    explain = "EXPLAIN " if isinstance(database, peewee.PostgresqlDatabase) else "EXPLAIN QUERY PLAN "
    return [
        "\n".join(str(row[-1]) for row in database.execute_sql(explain + sql, params).fetchall())
        for sql, params in statements(call)
    ]


def listing(owner: str) -> list[Job]:
    """A page of `GET /inference` (`web.resources.jobs`)."""
    return list(Job.select().where(Job.owner == owner).order_by(Job.created_at.desc(), Job.id.desc()).limit(21))


def replayed(owner: str, key: str) -> Job | None:
    """An idempotent replay's lookup (`web.admission.replay`)."""
    return Job.get_or_none((Job.owner == owner) & (Job.idempotency_key == key))


QUERIES = {
    "backlog": (lambda: Job.backlog("m1"), "job_pending_status_model"),
    "queued_of": (lambda: queued_of("k1"), "job_pending_status_model"),
    "leased": (lambda: Job.leased(NOW), "job_pending_status_model"),
    "stale": (lambda: Job.stale(queued_before=NOW, now=NOW), "job_pending_status_model"),
    "unsent": (lane.unsent, "job_pending_status_model"),
    "replay": (lambda: replayed("k0", f"key-{ROWS - 100}"), "job_owner_idempotency_key"),
    "purge": (lambda: list(retention.candidates(NOW, 500)), "job_unerased_finished_at"),
    "listing": (lambda: listing("k2"), "job_owner_created_at_id"),
}


def test_the_hot_queries_read_their_indexes_on_a_filled_table(database):
    fill(database)
    found = {name: plans(database, call) for name, (call, _) in QUERIES.items()}
    missed = {name: plan for name, plan in found.items() if not plan or QUERIES[name][1] not in "\n".join(plan)}
    assert missed == {}


def whole_reads(database: peewee.Database, call) -> list[str]:
    """The reads of the job table that `call`'s statements make through no key: a sequential scan, or an index
    read from end to end (no index condition). EXPLAIN (FORMAT JSON) on PostgreSQL; on SQLite a `SCAN` of the
    statement's alias of `job` (a `SEARCH` is a lookup)."""
    found = []
    for sql, params in statements(call):
        if isinstance(database, peewee.PostgresqlDatabase):
            (plan,) = database.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
            nodes = [(json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]]
            while nodes:
                node = nodes.pop()
                nodes.extend(node.get("Plans", []))
                if node.get("Relation Name") == "job" and "Index Cond" not in node and "Recheck Cond" not in node:
                    found.append(f"{node['Node Type']} on job: {sql}")
        else:
            aliases = re.findall(r'"job" AS "(\w+)"', sql)
            for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall():
                if any(re.match(rf"SCAN {alias}\b", str(row[-1])) for alias in aliases):
                    found.append(f"{row[-1]}: {sql}")
    return found


def test_the_bulk_lanes_queries_read_a_batchs_jobs_by_key_on_a_filled_table(database, monkeypatch):
    """A running batch of 2,000 lines, 1,200 released and 800 of those finished, beside 20,000 jobs: each query
    reads the batch's requests and their jobs by primary key (or the pending jobs by the pending index). A join
    of the batch's requests to `job` lets PostgreSQL's planner hash the whole table, as it does here. A page of
    answers is a sliver of a deployment's table (500 jobs of millions): here 100 of 20,000."""
    monkeypatch.setattr(lane, "PAGE", 100)
    fill(database)
    batch = make_batch("k1", 2_000, invalid=20)
    released = []
    while len(released) < 1_200:
        released += lane.release(list(lane.waiting([batch.id], limit=400)))
    ids = [job.id for job in released]
    Job.update(status=Status.SUCCEEDED, finished_at=NOW).where(Job.id.in_(ids[:780])).execute()
    Job.update(status=Status.FAILED, failure=Failure.MODEL_ERROR, finished_at=NOW).where(
        Job.id.in_(ids[780:800])
    ).execute()
    Job.update(status=Status.FAILED, failure=Failure.NOT_ENQUEUED).where(Job.id.in_(ids[800:810])).execute()
    database.execute_sql(
        "ANALYZE" if isinstance(database, peewee.SqliteDatabase) else "ANALYZE job; ANALYZE batch_request"
    )
    lane.forget()  # every batch read from its first line, as a process that starts reads it
    queries = {
        "in_flight": lane.in_flight,
        "waiting": lambda: list(lane.waiting([batch.id], owner="k1", limit=256)),
        "owners_waiting": lambda: lane.owners_waiting([batch.id]),
        "unreleased_count": lambda: lane.unreleased_count(batch.id),
        "unfinished_by_owner": lane.unfinished_by_owner,
        "unsent": lane.unsent,
        "unfinished_jobs": lambda: lane.unfinished_jobs(batch.id),
        "finished_count": lambda: lane.finished_count(batch.id),
        "answers": lambda: list(itertools.islice(lane.answers(batch.id), 1_200)),
        "tally": lambda: BatchRequest.tally(batch.id),
    }
    found = {name: whole_reads(database, call) for name, call in queries.items()}
    assert {name: reads for name, reads in found.items() if reads} == {}
    assert lane.finished_count(batch.id) == 800 and BatchRequest.tally(batch.id) == {"completed": 780, "failed": 40}
    assert lane.unreleased_count(batch.id) == 2_000 - 20 - 1_200 and lane.in_flight() == 1_200 - 800 - 10
