"""A batch's output and error files (actors/batch_output.py): their rows are created with the batch's move to
its end, in one transaction, so a fault or a lost race leaves no file listed that no batch names."""

import pytest

from actors.batch_keeper import keep
from actors.batch_output import write_results
from db import Job
from db.bulk import Batch, BatchStatus, File
from tests.doubles import make_batch


def finished_batch(stub_broker) -> Batch:
    batch = make_batch("key-a", 3)
    keep(stub_broker)  # releases its jobs
    for job in Job.select():
        Job.claim(job.id).finish("succeeded", output=[{"embedding": [1.0], "tokens": 1}])
    return Batch.get_by_id(batch.id)


def output_files() -> list[File]:
    return list(File.select().where(File.purpose == "batch_output"))


def test_a_fault_while_the_batch_ends_leaves_no_output_file_listed(database, stub_broker):
    batch = finished_batch(stub_broker)

    def fault(results):
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        write_results(batch, then=fault)
    assert output_files() == []
    keep(stub_broker)  # the next pass ends it: one output file, named by the batch
    ended = Batch.get_by_id(batch.id)
    assert ended.status == BatchStatus.COMPLETED
    assert [f.id for f in output_files()] == [ended.output_file_id]


def test_files_written_for_a_batch_another_process_ended_are_not_kept(database, stub_broker):
    batch = finished_batch(stub_broker)
    results = write_results(batch, then=lambda results: False)
    assert results.completed == 3
    assert output_files() == []
