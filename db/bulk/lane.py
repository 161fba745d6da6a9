"""The bulk lane's queries: which requests wait for their job (`waiting`), how many released jobs are still
queued (`in_flight`), releasing requests as jobs (`release`), and reading a batch's answers in line order
(`answers`). A request's job id is chosen when the request is stored; its job exists once released."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import peewee

from db.bulk.batches import ENDED, Batch, BatchRequest, BatchStatus
from db.connection import database
from db.jobs import Job
from db.lifecycle import UNFINISHED, Failure, Status

PAGE = 500
# Per batch, a line up to which every request is released (or invalid), as this process has seen: lines are
# released in order, so `waiting` starts past it (an index range) instead of reading every released line
# again each second. A lower bound only: a process that starts knows none, and reads from the first line.
_released_to: dict[str, int] = {}


def forget() -> None:
    """Read every batch from its first line again: after a database outage (a failover may have lost
    releases this process saw committed) and now and then."""
    _released_to.clear()


def active_ids() -> list[str]:
    """The batches in progress, oldest first."""
    query = Batch.select(Batch.id).where(Batch.status == BatchStatus.IN_PROGRESS).order_by(Batch.created_at, Batch.id)
    ids = [b.id for b in query]
    for ended in set(_released_to) - set(ids):
        del _released_to[ended]
    return ids


def in_flight() -> int:
    """Released bulk jobs still queued: what the bulk queue holds, or workers hold unstarted."""
    return Job.select().where((Job.status == Status.QUEUED) & _of_a_batch()).count()


def _of_a_batch() -> peewee.Expression:
    """A job that is a batch's line: looked up in the requests' job index, a subquery per job. Read from the
    pending jobs (the pending index), so the cost follows the jobs under way, never the requests retained (a
    join lets the planner hash every request of every batch)."""
    request = BatchRequest.select(peewee.SQL("1")).where(BatchRequest.job == Job.id).limit(1)
    return peewee.Expression(request, "IS NOT", None)


def _unreleased() -> peewee.Expression:
    """A valid request whose job row does not exist yet: `release` creates it, and a job row is never deleted
    (retention leaves a tombstone). Its job is looked up by primary key, a subquery per request: an anti-join
    (`NOT EXISTS`, `LEFT JOIN ... IS NULL`) lets the planner hash the whole job table."""
    return peewee.Expression(Job.select(peewee.SQL("1")).where(Job.id == BatchRequest.job).limit(1), "IS", None)


def _unreleased_lines(batch_id: str) -> peewee.ModelSelect:
    """The batch's valid requests not released yet, from past the lines this process saw released, each line's
    job looked up by primary key (a count's query: it reads every such line)."""
    return BatchRequest.select().where(_valid_past(batch_id, _released_to.get(batch_id, 0)) & _unreleased())


def _valid_past(batch_id: str, line: int) -> peewee.Expression:
    """The batch's valid requests past `line` (a range of its line index)."""
    return (BatchRequest.batch == batch_id) & (BatchRequest.line > line) & BatchRequest.error_code.is_null()


def _first_unreleased(batch_id: str, limit: int | None) -> list[BatchRequest]:
    """The batch's first valid requests not released yet, in line order, at most `limit` (None: all). Lines are
    read a page at a time by the batch's line index, from past the lines this process saw released, then which
    of their jobs exist, by primary key: a read costs about the lines it returns, however the planner judges
    a per-line test of the job (it may sort every remaining line first). Released lines read on the way
    move that mark past them, up to the first line still waiting."""
    found: list[BatchRequest] = []
    past, settled = _released_to.get(batch_id, 0), True
    while limit is None or len(found) < limit:
        page = list(BatchRequest.select().where(_valid_past(batch_id, past)).order_by(BatchRequest.line).limit(PAGE))
        released = {job.id for job in Job.select(Job.id).where(Job.id.in_([r.job for r in page]))} if page else set()
        for request in page:
            if request.job in released:
                if settled:
                    _released_to[batch_id] = max(_released_to.get(batch_id, 0), request.line)
                continue
            settled = False
            found.append(request)
            if limit is not None and len(found) >= limit:
                break
        if len(page) < PAGE:
            break
        past = page[-1].line
    return found


def _batches(batch_ids: list[str], owner: str | None = None) -> list[str]:
    """`batch_ids` oldest first, those of `owner` only when given."""
    query = Batch.select(Batch.id).where(Batch.id.in_(batch_ids))
    if owner is not None:
        query = query.where(Batch.owner == owner)
    return [b.id for b in query.order_by(Batch.created_at, Batch.id)] if batch_ids else []


def waiting(batch_ids: list[str], *, owner: str | None = None, limit: int | None = None) -> list[BatchRequest]:
    """Requests of `batch_ids` not yet released (of `owner`'s batches only, when given), oldest batch first,
    in line order: one batch at a time, until `limit`."""
    found: list[BatchRequest] = []
    for batch_id in _batches(batch_ids, owner):
        found += _first_unreleased(batch_id, None if limit is None else limit - len(found))
        if limit is not None and len(found) >= limit:
            break
    return found


def has_unreleased(batch_id: str) -> bool:
    """Whether a valid request of the batch is not released yet: the first one found ends the read."""
    return bool(_first_unreleased(batch_id, 1))


def owners_waiting(batch_ids: list[str]) -> list[str]:
    """The owners of the batches with requests not yet released."""
    owners = Batch.select(Batch.id, Batch.owner).where(Batch.id.in_(batch_ids)) if batch_ids else []
    return sorted({batch.owner for batch in owners if has_unreleased(batch.id)})


def unfinished_by_owner() -> dict[str, int]:
    """Released bulk jobs not finished yet, per owner: who the lane serves now. Read from the pending jobs (a
    bulk job's owner is its batch's) and counted here: grouped in SQL, a planner may read every job by owner."""
    unfinished = (Job.status == Status.QUEUED) | (Job.status == Status.RUNNING)  # as the pending index says it
    query = Job.select(Job.owner).where(unfinished & _of_a_batch()).tuples()
    return dict(Counter(owner for (owner,) in query))


def release(requests: list[BatchRequest]) -> list[Job]:
    """Their jobs, created queued in one transaction under the ids the requests hold."""
    rows = [
        {
            "id": r.job,
            "model": r.model,
            "task": r.task,
            "inputs": r.inputs,
            "parameters": r.parameters or {},
            "owner": r.owner,
        }
        for r in requests
    ]
    with database.atomic():
        jobs = Job.create_many(rows)
    for r in requests:  # committed: every line of its batch up to it is released (`waiting`'s order)
        _released_to[r.batch] = max(_released_to.get(r.batch, 0), r.line)
    return jobs


def owners_of(job_ids: list) -> dict[str, str]:
    """The owner of each of `job_ids` that is a batch's line (a job of the bulk lane), by job id; the
    others are interactive jobs."""
    if not job_ids:
        return {}
    query = BatchRequest.select(BatchRequest.job, BatchRequest.owner).where(BatchRequest.job.in_(list(job_ids)))
    return {str(row.job): row.owner for row in query}


def unsent() -> dict[str, list]:
    """Released jobs of batches not ended whose message the broker did not take (failed as never enqueued),
    per owner, in line order: the keeper sends them again."""
    query = (
        BatchRequest.select(BatchRequest.owner, BatchRequest.job)
        .join(Job, on=(BatchRequest.job == Job.id))
        .switch(BatchRequest)
        .join(Batch, on=(BatchRequest.batch == Batch.id))
        .where((Job.status == Status.FAILED) & (Job.failure == Failure.NOT_ENQUEUED))
        .where(Batch.status.not_in(sorted(ENDED)))
        .order_by(Batch.created_at, BatchRequest.batch, BatchRequest.line)
        .tuples()
    )
    found: dict[str, list] = {}
    for owner, job_id in query:
        found.setdefault(owner, []).append(job_id)
    return found


def unreleased_count(batch_id: str) -> int:
    """How many valid requests of the batch are not released yet (reads each such line: the lane's metrics)."""
    return _unreleased_lines(batch_id).count()


def unfinished_jobs(batch_id: str) -> list:
    query = (
        BatchRequest.select(BatchRequest.job)
        .join(Job, on=(BatchRequest.job == Job.id))
        .where((BatchRequest.batch == batch_id) & Job.status.in_(sorted(UNFINISHED)))
    )
    return [row.job for row in query]


def finished_count(batch_id: str) -> int:
    """Released jobs of the batch that finished (a job whose message was refused has not: it is sent again)."""
    return sum(n for status, n in BatchRequest.job_statuses(batch_id).items() if status not in UNFINISHED)


# What an answer line is made of (`actors.batch_output`): not the requests' inputs, nor the jobs' own.
ANSWERING = (
    *(BatchRequest.id, BatchRequest.line, BatchRequest.custom_id, BatchRequest.encoding, BatchRequest.job),
    *(BatchRequest.error_code, BatchRequest.error_message),
)
ANSWERED = (Job.id, Job.status, Job.model, Job.task, Job.result, Job.vectors, Job.error, Job.failure)


def answers(batch_id: str) -> Iterator[tuple[BatchRequest, Job | None]]:
    """Every request of the batch in line order with its job (None: never released), `PAGE` at a time: a page
    of requests, then their jobs by primary key (joined, a page's jobs may be read by hashing the whole table)."""
    last = 0
    while True:
        page = list(
            BatchRequest.select(*ANSWERING)
            .where((BatchRequest.batch == batch_id) & (BatchRequest.line > last))
            .order_by(BatchRequest.line)
            .limit(PAGE)
        )
        ids = [request.job for request in page if request.job is not None]
        jobs = {job.id: job for job in Job.select(*ANSWERED).where(Job.id.in_(ids))} if ids else {}
        for request in page:
            yield request, jobs.get(request.job)
        if len(page) < PAGE:
            return
        last = page[-1].line
