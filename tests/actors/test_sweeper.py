import datetime as dt

from actors.sending import open_sender
from actors.sweeper import RUNNING_GRACE, sweep
from db import Job, Status
from db.models import utcnow
from tests.conftest import queued_messages

AFTER = dt.timedelta(minutes=10)


def job(status=Status.QUEUED, age=dt.timedelta(minutes=11), **fields) -> Job:
    created = utcnow() - age
    return Job.create(model="m", task="feature-extraction", inputs=["x"], status=status, created_at=created, **fields)


def test_a_job_queued_too_long_is_sent_again_and_a_recent_one_is_left_alone(database):
    actors = open_sender("stub://")
    old, recent = job(), job(age=dt.timedelta(minutes=1))
    report = sweep(actors, queued_after=AFTER)
    assert (report.resent, report.failed) == (1, 0)
    assert queued_messages(actors) == 1
    assert Job.get_by_id(old.id).sweeps == 1 and Job.get_by_id(recent.id).sweeps == 0


def test_a_job_just_sent_again_is_not_sent_again_before_its_time(database):
    actors = open_sender("stub://")
    job()
    sweep(actors, queued_after=AFTER)
    assert sweep(actors, queued_after=AFTER).resent == 0
    assert queued_messages(actors) == 1


def test_a_job_running_past_any_time_limit_is_sent_again(database):
    actors = open_sender("stub://")
    stuck = job(Status.RUNNING, started_at=utcnow() - RUNNING_GRACE - dt.timedelta(seconds=1))
    alive = job(Status.RUNNING, started_at=utcnow())
    assert sweep(actors, queued_after=AFTER).resent == 1
    assert Job.get_by_id(stuck.id).sweeps == 1 and Job.get_by_id(alive.id).sweeps == 0


def test_after_the_last_re_send_a_lost_job_fails_with_the_reason(database):
    actors = open_sender("stub://")
    lost = job(sweeps=3)
    report = sweep(actors, queued_after=AFTER, max_sweeps=3)
    assert (report.resent, report.failed) == (0, 1)
    stored = Job.get_by_id(lost.id)
    assert stored.status == Status.FAILED
    assert stored.error.startswith("lost: sent 4 times")
    assert queued_messages(actors) == 0


def test_finished_jobs_are_never_swept(database):
    actors = open_sender("stub://")
    for status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
        job(status)
    assert sweep(actors, queued_after=AFTER).resent == 0
