"""The job's view (web/views.py) is the webhook payload's (db/views.py, read by actors/delivery.py), field
for field, while the payload is still built on the workers' side."""

from db import Job, Status
from db.views import job_view as payload_view
from web.views import job_view


def test_the_api_and_the_webhook_payload_show_a_job_alike(database):
    job = Job.create(model="all-MiniLM-L6-v2", task="feature-extraction", inputs=["a"], webhook="https://x.test/h")
    Job.claim(job.id).finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    finished = Job.get_by_id(job.id)
    assert job_view(finished, inputs=True) == payload_view(finished, inputs=True)
    assert job_view(finished)["output"] == [{"embedding": [1.0]}]
