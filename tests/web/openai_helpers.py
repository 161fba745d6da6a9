"""Helpers of the tests of the OpenAI-compatible routes: a stand-in worker and OpenAI's error shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from actors.sending import Sender
from db import Job, Status

KEY = "key-5f3a"


def fake_embeddings(job: Job) -> None:
    """What a worker would save: one vector and token count per input (values easy to check)."""
    job.finish(
        Status.SUCCEEDED,
        output=[
            {"embedding": [float(len(text)), 0.5, -0.25, 1 / 3], "tokens": len(text.split()) + 2, "truncated": False}
            for text in job.inputs
        ],
    )


@dataclasses.dataclass
class InstantWorker(Sender):
    """Sends as usual (the message is queued), then does at once what a worker would do with it."""

    outcome: Callable[[Job], None] = fake_embeddings

    def enqueue(self, *job_ids, hint=None) -> None:
        super().enqueue(*job_ids, hint=hint)
        for job_id in job_ids:
            self.outcome(Job.claim(job_id))


def embed(client, body, **headers):
    return client.simulate_post("/v1/embeddings", json=body, headers=headers)


def assert_openai_error(response, status: int, *, param=None, kind="invalid_request_error", code=None) -> str:
    """The response is OpenAI's error shape with this status; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == (kind, param), error
    if code is not None:
        assert error["code"] == code, error
    assert error["message"]
    return error["message"]
