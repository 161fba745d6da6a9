"""The job lifecycle table: what it allows, and that nothing else can be written."""

import pytest

from db import STATUSES, TERMINAL, UNFINISHED, Job, Status
from db.lifecycle import TRANSITIONS, check, sources


def test_every_status_has_a_row_and_finished_ones_only_leave_for_a_resend():
    assert set(TRANSITIONS) == set(STATUSES)
    assert set(STATUSES) == UNFINISHED | TERMINAL and not UNFINISHED & TERMINAL
    assert TRANSITIONS[Status.SUCCEEDED] == TRANSITIONS[Status.CANCELED] == frozenset()
    assert TRANSITIONS[Status.FAILED] == {Status.QUEUED}


def test_the_sources_of_a_status_are_read_from_the_table():
    assert sources(Status.RUNNING) == {Status.QUEUED, Status.RUNNING}
    assert sources(Status.CANCELED) == UNFINISHED
    assert sources(Status.QUEUED) == {Status.FAILED}


def test_a_move_the_table_does_not_allow_is_refused_before_any_write(database):
    job = Job.create(model="m", task="feature-extraction", inputs=["a"])
    with pytest.raises(ValueError, match="does not allow"):
        check(Status.SUCCEEDED, {Status.QUEUED})
    with pytest.raises(ValueError, match="does not allow"):
        Job._move(Job.id == job.id, Status.RUNNING, allowed_from={Status.SUCCEEDED})
    assert Job.get_by_id(job.id).status == Status.QUEUED


def test_a_canceled_job_cannot_be_finished_by_a_late_worker(database):
    job = Job.claim(Job.create(model="m", task="feature-extraction", inputs=["a"]).id)
    assert Job.cancel(job.id)
    assert not job.finish(Status.SUCCEEDED, output=[{"embedding": [1.0]}])
    assert Job.get_by_id(job.id).status == Status.CANCELED
