"""A lone job's hint: when the API attaches one to its message, and which claimed row it describes."""

from types import SimpleNamespace

import pytest

from actors import hints


def lone(**fields):
    job = {"model": "m", "task": "feature-extraction", "parameters": {}, "inputs": ["hi"], "awaited": True}
    return SimpleNamespace(**{**job, **fields})


def test_a_lone_job_its_request_waits_for_gets_a_hint_of_its_fields():
    job = lone(parameters={"normalize": False})
    assert hints.hint_for([job]) == ["m", "feature-extraction", {"normalize": False}, ["hi"]]


@pytest.mark.parametrize(
    "jobs",
    [
        [lone(awaited=False)],  # nobody waits for it
        [lone(), lone()],  # sent together: they run together anyway
        [lone(inputs=["x" * hints.MAX_INPUT_BYTES])],  # the message stays small
    ],
)
def test_no_hint_for_a_job_nobody_waits_for_jobs_sent_together_or_long_inputs(jobs):
    assert hints.hint_for(jobs) is None


def test_a_hint_matches_only_the_job_it_describes():
    row = SimpleNamespace(model="m", task="feature-extraction", parameters={"a": 1}, inputs=["hi"])
    assert hints.matches(row, ["m", "feature-extraction", {"a": 1}, ["hi"]])
    assert not hints.matches(row, ["m", "feature-extraction", {"a": 1}, ["hello"]])
    assert not hints.matches(row, ["m", "feature-extraction", {}, ["hi"]])
    assert not hints.matches(row, ["other", "feature-extraction", {"a": 1}, ["hi"]])
