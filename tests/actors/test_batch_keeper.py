"""The batch keeper through a broker that refuses messages: a released job whose message was not taken is
sent again by the keeper, and the batch still completes with every line answered once."""

import pytest
from dramatiq import Message
from dramatiq.errors import ConnectionClosed

from actors import bulk
from actors.batch_keeper import keep
from db import Job, Status
from db.bulk import Batch, BatchStatus
from tests.doubles import make_batch


def refusing(broker, monkeypatch, *, after: int):
    """Make `broker` take `after` messages, then refuse every one until the patch is undone."""
    taken = []
    enqueue = broker.enqueue

    def flaky(message, **options):
        if len(taken) >= after:
            raise ConnectionClosed(OSError("the broker went away"))
        taken.append(message)
        return enqueue(message, **options)

    monkeypatch.setattr(broker, "enqueue", flaky)


def sent_ids(broker) -> list[str]:
    """Job ids of every message in the bulk queue (a message is the owner, then its jobs)."""
    queue = broker.queues[bulk.QUEUE]
    ids = []
    while not queue.empty():
        ids += list(Message.decode(queue.get_nowait()).args[1:])
    return ids


def test_jobs_whose_message_the_broker_refused_are_sent_again_and_the_batch_completes(
    database, stub_broker, monkeypatch
):
    batch = make_batch("key-a", bulk.JOBS_PER_MESSAGE + 8)  # two messages: the second is refused
    with monkeypatch.context() as patch:
        refusing(stub_broker, patch, after=1)
        with pytest.raises(ConnectionClosed):
            keep(stub_broker)
    assert Batch.get_by_id(batch.id).counts()["failed"] == 0  # a refused message is not a failed line
    keep(stub_broker)  # the broker takes messages again
    ids = sent_ids(stub_broker)
    jobs = list(Job.select())
    assert sorted(ids) == sorted(str(job.id) for job in jobs)  # every job has one message, none two
    assert {job.status for job in jobs} == {Status.QUEUED}
    for job in jobs:
        Job.claim(job.id).finish("succeeded", output=[{"embedding": [1.0], "tokens": 1}])
    keep(stub_broker)
    ended = Batch.get_by_id(batch.id)
    assert ended.status == BatchStatus.COMPLETED
    assert ended.counts() == {"total": bulk.JOBS_PER_MESSAGE + 8, "completed": bulk.JOBS_PER_MESSAGE + 8, "failed": 0}
