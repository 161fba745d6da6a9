"""Files and batches in the database, on each dialect: chunks read back in order, requests released as jobs
under the ids they hold, the lane's counts, and a batch's answers read in line order."""

import datetime as dt

import peewee

from db import Job, Status
from db.base import utcnow
from db.bulk import Batch, BatchRequest, BatchStatus, File, FileChunk, files, lane
from harness.statements import statements
from tests.doubles import make_batch


def columns(database: peewee.Database, table: str) -> set[str]:
    return {column.name for column in database.get_columns(table)}


def test_migration_009_makes_every_field_of_the_bulk_models(database):
    for model in (File, FileChunk, Batch, BatchRequest):
        assert columns(database, model._meta.table_name) == {f.column_name for f in model._meta.sorted_fields}


def test_a_files_chunks_read_back_in_order_and_its_lines_split_across_chunks(database, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_BYTES", 7)
    content = b"first line\nsecond\nthird, no line end"
    files.write_chunks("file-x", [content[:5], content[5:]])
    assert FileChunk.select().count() == -(-len(content) // 7)
    assert b"".join(files.read_chunks("file-x")) == content
    assert list(files.read_lines("file-x")) == [b"first line", b"second", b"third, no line end"]


def test_only_old_chunks_without_a_file_are_dropped(database):
    files.write_chunks("file-cut-short", [b"abc"])
    File.create(id="file-whole", purpose="batch", filename="f", bytes=3)
    files.write_chunks("file-whole", [b"abc"])
    assert files.drop_orphans(utcnow() - dt.timedelta(hours=1)) == 0  # an upload may still be under way
    assert files.drop_orphans(utcnow() + dt.timedelta(seconds=1)) == 1
    assert [row.file for row in FileChunk.select()] == ["file-whole"]


def test_released_requests_become_queued_jobs_under_the_ids_they_hold(database):
    batch = make_batch("key-a", 5, invalid=1)
    waiting = list(lane.waiting([batch.id], limit=3))
    assert [r.line for r in waiting] == [2, 3, 4]
    jobs = lane.release(waiting)
    assert [job.id for job in jobs] == [r.job for r in waiting]
    assert {job.owner for job in Job.select()} == {"key-a"} and lane.in_flight() == 3
    assert [r.line for r in lane.waiting([batch.id])] == [5] and lane.unreleased_count(batch.id) == 1
    assert lane.owners_waiting([batch.id]) == ["key-a"]
    job = Job.claim(jobs[0].id)
    job.finish(Status.SUCCEEDED, output=[{"embedding": [1.0], "tokens": 1}])
    assert lane.in_flight() == 2 and lane.finished_count(batch.id) == 1
    assert sorted(map(str, lane.unfinished_jobs(batch.id))) == sorted(str(j.id) for j in jobs[1:])
    assert BatchRequest.tally(batch.id) == {"completed": 1, "failed": 1}


def test_a_batchs_answers_come_in_line_order_with_their_jobs(database, monkeypatch):
    monkeypatch.setattr(lane, "PAGE", 2)
    batch = make_batch("key-a", 5, invalid=1)
    lane.release(list(lane.waiting([batch.id], limit=2)))
    answered = list(lane.answers(batch.id))
    assert [r.line for r, _ in answered] == [1, 2, 3, 4, 5]
    assert [job is not None for _, job in answered] == [False, True, True, False, False]
    request, job = answered[1]
    assert job.id == request.job and job.status == Status.QUEUED  # the request's own job, as it stands


def test_the_purge_drops_ended_batches_requests_and_files_and_old_uploads_no_running_batch_reads(database):
    from db.retention import purge

    old = utcnow() - dt.timedelta(days=3)
    ended = make_batch("key-a", 2)
    File.create(id="file-out", purpose="batch_output", filename="o", bytes=1, created_at=old)
    files.write_chunks("file-out", [b"x"])
    Batch.update(status=BatchStatus.COMPLETED, created_at=old, output_file_id="file-out").where(
        Batch.id == ended.id
    ).execute()
    running = make_batch("key-a", 1)
    for file_id in ("file-in", "file-unused"):
        File.create(id=file_id, purpose="batch", filename="i", bytes=1, created_at=old)
    Batch.update(input_file_id="file-in").where(Batch.id == running.id).execute()
    report = purge(dt.timedelta(days=1))
    assert report.bulk == (1, 1)
    assert BatchRequest.select().where(BatchRequest.batch == ended.id).count() == 0
    assert BatchRequest.select().where(BatchRequest.batch == running.id).count() == 1
    assert sorted(f.id for f in File.select()) == ["file-in"]  # the running batch's input stays
    assert FileChunk.select().count() == 0
    assert Batch.get_by_id(ended.id).status == BatchStatus.COMPLETED  # the row stays, a tombstone


def test_waiting_starts_past_the_lines_released_until_the_process_forgets(database):
    """Released lines are read once: `waiting` starts past the last line this process released. A release
    lost by the database (a failover to a standby behind) is found again once the keeper forgets."""
    batch = make_batch("key-a", 6)
    released = lane.release(list(lane.waiting([batch.id], limit=4)))
    assert [r.line for r in lane.waiting([batch.id])] == [5, 6]
    Job.delete().where(Job.id == released[0].id).execute()  # the standby never had it
    assert [r.line for r in lane.waiting([batch.id])] == [5, 6]  # past what this process saw released
    lane.forget()
    assert [r.line for r in lane.waiting([batch.id])] == [1, 5, 6]


def test_a_read_of_waiting_lines_costs_the_lines_it_returns_and_skips_released_ones_after(database, monkeypatch):
    """A process that starts (or forgets) reads the released lines once, a page at a time, and moves past
    them: the next read starts at the first line still waiting, and reads a page, whatever the batch's size."""
    monkeypatch.setattr(lane, "PAGE", 4)
    batch = make_batch("key-a", 30, invalid=2)
    lane.release(lane.waiting([batch.id], limit=15))  # lines 3 to 17
    lane.forget()
    assert [r.line for r in lane.waiting([batch.id], limit=2)] == [18, 19]
    ran = statements(lambda: lane.waiting([batch.id], limit=2))
    reads = [params for sql, params in ran if 'FROM "batch_request"' in sql]
    assert len(reads) == 1 and 17 in reads[0]  # one page, from past line 17
    assert lane.has_unreleased(batch.id) and lane.owners_waiting([batch.id]) == ["key-a"]
    lane.release(lane.waiting([batch.id]))
    assert not lane.has_unreleased(batch.id) and lane.owners_waiting([batch.id]) == []
