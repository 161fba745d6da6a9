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
