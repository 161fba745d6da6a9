"""Retention of bulk work, as of jobs (`db.retention`): a batch ended more than the retention ago loses its
requests (they hold the inputs) and its output and error files, the row staying as a tombstone; a file
uploaded more than the retention ago is deleted unless a batch still running reads it; chunks left by an
upload cut short are dropped after a day."""

from __future__ import annotations

import datetime as dt

from db.bulk.batches import ENDED, Batch, BatchRequest
from db.bulk.files import File, FileChunk, drop_orphans
from db.connection import database

ORPHANS_AFTER = dt.timedelta(days=1)


def purge_bulk(cutoff: dt.datetime, now: dt.datetime) -> tuple[int, int]:
    """Purge batches ended and files made before `cutoff`; returns (batches, files) purged."""
    ended = [
        b
        for b in Batch.select().where(Batch.status.in_(sorted(ENDED)) & (Batch.created_at < cutoff))
        if BatchRequest.select().where(BatchRequest.batch == b.id).exists() or b.output_file_id or b.error_file_id
    ]
    for batch in ended:
        with database.atomic():
            BatchRequest.delete().where(BatchRequest.batch == batch.id).execute()
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    FileChunk.delete().where(FileChunk.file == file_id).execute()
                    File.delete().where(File.id == file_id).execute()
    running = Batch.select(Batch.input_file_id).where(Batch.status.not_in(sorted(ENDED)))
    old = File.select().where((File.created_at < cutoff) & File.id.not_in(running))
    files = 0
    for row in old:
        row.remove()
        files += 1
    drop_orphans(now - ORPHANS_AFTER)
    return len(ended), files
