"""The hub of job-finished events in one process (the relay from PostgreSQL: tests/integration/test_events.py)."""

import uuid
from types import SimpleNamespace

from db.events import JobEvents, PostgresListener


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


def test_the_relay_builds_the_waited_jobs_their_notices_carry_and_reads_the_rest_in_one_call(database):
    hub, reads = JobEvents(), []
    carried, bare, broken, unwaited = (str(uuid.uuid4()) for _ in range(4))

    def build(row: dict) -> str:
        if "status" not in row:
            raise KeyError("status")  # a row of another schema
        return f"built {row['status']}"

    def read(ids: list[str]) -> list:
        reads.append(sorted(ids))
        return [SimpleNamespace(id=key) for key in ids]

    listener = PostgresListener({}, hub, read=read, build=build)
    notices = {carried: '{"status": "succeeded"}', bare: "", broken: '{"state": "x"}', unwaited: '{"status": "x"}'}
    with hub.waiting(carried), hub.waiting(bare), hub.waiting(broken):
        jobs = listener._jobs(notices)
    assert jobs[carried] == "built succeeded"
    assert {jobs[bare].id, jobs[broken].id} == {bare, broken} and unwaited not in jobs
    assert reads == [sorted([bare, broken])]  # one read, for the waited jobs that came without a usable row
