"""The embedded start sends again the jobs accepted before a restart, each on its own lane
(inference_api/embedded.py)."""

from dramatiq import Message

from actors import bulk
from actors.sending import open_sender
from db import Job
from db.bulk import BatchRequest
from inference_api.embedded import resend_unfinished
from tests.doubles import make_batch, new_job


def test_unfinished_jobs_are_sent_again_a_batchs_line_on_the_bulk_queue_under_its_owner(database):
    actors = open_sender("stub://")
    request = BatchRequest.get(BatchRequest.batch == make_batch("key-b", 1).id)
    line = Job.create(id=request.job, model="m", task="feature-extraction", inputs=["t"], owner="key-b")
    interactive = new_job()
    assert resend_unfinished(actors) == 2
    bulk_queue = actors.broker.queues[bulk.QUEUE]
    assert bulk_queue.qsize() == 1
    assert list(Message.decode(bulk_queue.get()).args) == ["key-b", str(line.id)]
    assert list(Message.decode(actors.broker.queues[actors.actor.queue_name].get()).args) == [str(interactive.id)]
