"""The hub of job-finished events in one process (the relay from PostgreSQL: tests/integration/test_events.py)."""

import uuid

from db.events import JobEvents


def test_a_waiter_is_woken_by_its_own_job_only():
    hub, job_id = JobEvents(), uuid.uuid4()
    with hub.waiting(job_id) as finished:
        hub.publish([uuid.uuid4()])
        assert not finished.is_set()
        hub.publish([str(job_id)])  # ids as text or UUID alike
        assert finished.is_set()


def test_a_waiter_registered_just_after_the_announcement_finds_its_event_set():
    hub, job_id = JobEvents(), uuid.uuid4()
    hub.publish([job_id])
    with hub.waiting(job_id) as finished:
        assert finished.is_set()


def test_only_the_most_recent_announcements_are_remembered():
    hub = JobEvents(remember=2)
    first, second, third = (uuid.uuid4() for _ in range(3))
    hub.publish([first, second])
    hub.publish([third])
    with hub.waiting(first) as forgotten, hub.waiting(third) as remembered:
        assert not forgotten.is_set() and remembered.is_set()


def test_a_waiter_is_handed_its_job_when_the_announcement_brings_it_and_reads_it_otherwise():
    hub, first, second = JobEvents(), uuid.uuid4(), uuid.uuid4()
    with hub.waiting(first) as handed, hub.waiting(second) as bare:
        assert hub.waited([first, uuid.uuid4()]) == [str(first)]  # only ids someone waits for
        hub.publish([first, second], {str(first): "the job, as read"})
        assert (handed.is_set(), handed.job) == (True, "the job, as read")
        assert (bare.is_set(), bare.job) == (True, None)
