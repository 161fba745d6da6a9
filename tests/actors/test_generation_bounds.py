"""Text generation within the batch's time bound: the deadline reaches the decoding loop, which stops between
tokens once it has passed; a job that ran alone for most of the bound fails (`time_limit`), not retried.

The tiny random GPT-2 (tests/tiny_models.py) decodes in a fraction of a millisecond a token; its session is
slowed here to a known time a token, and its end-of-text token switched off, so that a prompt decodes to its
`max_new_tokens` and the bound falls in the middle of it."""

import copy
import time
from concurrent.futures import Future

import pytest

from actors import runtime
from actors.batching import Batcher
from actors.runs import BatchTimeout
from db import Failure, Job, Status
from tests.doubles import FakeRuntimes

pytestmark = pytest.mark.slow

TOKEN_SECONDS = 0.02
TOKENS = 50  # a prompt decodes in TOKEN_SECONDS * TOKENS = 1 s, far past the bounds below


class SlowSession:
    """An ONNX Runtime session taking `seconds` more a run, counting its runs."""

    def __init__(self, session, seconds: float):
        self.session, self.seconds, self.runs = session, seconds, 0

    def run(self, *args, **kwargs):
        self.runs += 1
        time.sleep(self.seconds)  # the point: a decoding step that lasts
        return self.session.run(*args, **kwargs)


@pytest.fixture(scope="module")
def tiny_gpt2(tiny):
    return runtime.load(tiny[2] / "tiny-gpt2")


@pytest.fixture
def slow(tiny_gpt2):
    model = copy.copy(tiny_gpt2)
    model.session = SlowSession(tiny_gpt2.session, TOKEN_SECONDS)
    model.eos_token_id = -1  # never generated: each prompt runs to max_new_tokens
    return model


def generation_job(prompts: int, **parameters) -> Job:
    return Job.create(
        model="distilgpt2",
        task="text-generation",
        inputs=["hello world"] * prompts,
        parameters={"max_new_tokens": TOKENS, **parameters},
    )


def outcome(future: Future):
    try:
        return future.result(timeout=30)
    except BatchTimeout:
        return "retry"


def test_a_call_stops_between_decoding_steps_once_its_deadline_passes_and_steps_after_each(slow):
    steps = []
    with pytest.raises(BatchTimeout):
        slow(["hello world"], max_new_tokens=TOKENS, deadline=time.monotonic() + 0.2, step=lambda: steps.append(1))
    assert 0 < slow.session.runs < TOKENS / 2  # stopped within a few tokens of the deadline, not at the end
    assert len(steps) == slow.session.runs  # a step a token: the worker's liveness sees progress


def test_a_generation_batch_stops_between_decoding_steps_and_its_jobs_are_retried(database, slow):
    jobs = [generation_job(1), generation_job(1)]  # one group of two jobs, one prompt a run
    batcher = Batcher(FakeRuntimes(slow), batch_timeout=0.3)
    items = [(str(job.id), Future()) for job in jobs]
    batcher.run_batch(items)
    assert slow.session.runs < TOKENS / 2  # the first prompt was stopped mid-way, not decoded to its end
    assert [outcome(future) for _, future in items] == ["retry", "retry"]  # they shared the bound: retried alone
    assert [Job.get_by_id(job.id).status for job in jobs] == [Status.RUNNING] * 2  # left for the retry


def test_a_job_that_ran_alone_past_the_bound_fails_with_the_reason_and_is_not_retried(database, slow):
    job = generation_job(4)
    batcher = Batcher(FakeRuntimes(slow), batch_timeout=0.3)
    future = Future()
    batcher.run_batch([(str(job.id), future)])
    assert outcome(future) is True  # answered: its message is acked, never retried
    assert slow.session.runs < TOKENS / 2
    stored = Job.get_by_id(job.id)
    assert (stored.status, stored.failure) == (Status.FAILED, Failure.TIME_LIMIT)
    assert "BATCH_TIMEOUT" in stored.error and "MAX_GENERATED_TOKENS" in stored.error


def test_a_job_alone_that_started_late_in_its_batch_is_retried_not_failed(database, slow):
    # two groups of one job each (the seed tells them apart), 15 tokens (0.3 s) each against a bound of 0.4 s:
    # whichever runs first finishes; the other starts with a quarter of the bound left and is stopped, but it
    # never had the bound to itself
    jobs = [generation_job(1, max_new_tokens=15, seed=seed) for seed in (1, 2)]
    batcher = Batcher(FakeRuntimes(slow), batch_timeout=0.4)
    items = [(str(job.id), Future()) for job in jobs]
    batcher.run_batch(items)
    assert sorted(map(str, (outcome(future) for _, future in items))) == ["True", "retry"]
    assert sorted(Job.get_by_id(job.id).status for job in jobs) == [Status.RUNNING, Status.SUCCEEDED]
