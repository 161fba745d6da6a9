"""Lease fencing: a running job is taken over only once its lease expired, and the claim's `attempts` is
the token every later write of its worker carries, so a worker that lost its job (cut off past its lease)
can neither renew nor save it. On both dialects, PostgreSQL's one-statement save included."""

from __future__ import annotations

import datetime as dt

from db import Job, Status
from db.base import utcnow

LEASE = dt.timedelta(seconds=30)


def running_job(*, expired: bool) -> Job:
    job = Job.create(model="m", task="feature-extraction", inputs=["a"])
    claimed = Job.claim(job.id, lease=LEASE)
    if expired:
        Job.update(lease_expires_at=utcnow() - dt.timedelta(seconds=1)).where(Job.id == job.id).execute()
    return claimed


def test_a_running_job_under_a_live_lease_is_not_claimed_again(database):
    job = running_job(expired=False)
    assert Job.claim(job.id, lease=LEASE) is None
    stored = Job.get_by_id(job.id)
    assert (stored.status, stored.attempts) == (Status.RUNNING, 1)


def test_a_running_job_whose_lease_expired_is_taken_over_as_a_new_attempt(database):
    job = running_job(expired=True)
    taken = Job.claim(job.id, lease=LEASE)
    assert taken is not None and taken.attempts == 2
    assert taken.lease_expires_at > utcnow() + dt.timedelta(seconds=25)


def test_the_stale_workers_save_changes_nothing_once_its_job_was_taken_over(database):
    stale = running_job(expired=True)
    taken = Job.claim(stale.id, lease=LEASE)
    assert not stale.finish(Status.SUCCEEDED, output=[{"stale": True}])
    assert taken.finish(Status.SUCCEEDED, output=[{"taken": True}])
    assert Job.get_by_id(stale.id).output == [{"taken": True}]


def test_a_batch_save_writes_only_the_jobs_its_claims_still_hold(database):
    kept, lost = running_job(expired=False), running_job(expired=True)
    taken = Job.claim(lost.id, lease=LEASE)
    outcome = {"status": Status.SUCCEEDED, "output": [{"n": 1}]}
    written = Job.finish_many([(kept, outcome), (lost, outcome)])  # one statement on PostgreSQL
    assert [str(job_id) for job_id in written] == [str(kept.id)]
    assert Job.get_by_id(lost.id).status == Status.RUNNING  # still the new attempt's to save
    assert [str(job_id) for job_id in Job.finish_many([(taken, outcome)])] == [str(taken.id)]


def test_a_lease_is_renewed_only_by_the_claim_that_holds_it(database):
    stale = running_job(expired=True)
    taken = Job.claim(stale.id, lease=dt.timedelta(seconds=5))
    assert Job.renew({stale.id: stale.attempts}, dt.timedelta(hours=1)) == 0
    assert Job.get_by_id(stale.id).lease_expires_at < utcnow() + dt.timedelta(seconds=10)
    assert Job.renew({taken.id: taken.attempts}, dt.timedelta(hours=1)) == 1


def test_a_lease_yielded_by_its_claim_lets_the_retried_message_take_the_job_at_once(database):
    job = running_job(expired=False)
    assert Job.yield_leases({str(job.id): job.attempts + 1}) == 0  # another claim's token yields nothing
    assert Job.claim(job.id, lease=LEASE) is None
    assert Job.yield_leases({str(job.id): job.attempts}) == 1
    taken = Job.claim(job.id, lease=LEASE)
    assert taken is not None and taken.attempts == job.attempts + 1
