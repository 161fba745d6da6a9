"""Group commit: a request alone is flushed at once; requests arriving during a flush share the next."""

from __future__ import annotations

import threading
import time

import pytest

from web.group_commit import GroupCommit


class Flushes:
    """A flush that records its groups; the first one can be held until released."""

    def __init__(self, *, hold_first: bool = False, fail: set | None = None):
        self.groups: list[list] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.hold_first = hold_first
        self.fail = fail or set()

    def __call__(self, items: list) -> list:
        self.groups.append(list(items))
        self.entered.set()
        if self.hold_first and len(self.groups) == 1:
            assert self.release.wait(10)
        if self.fail & set(items):
            raise ConnectionError(f"group {items} failed")
        return [f"result of {item}" for item in items]


def submit_in_threads(group: GroupCommit, items: list) -> tuple[dict, list[threading.Thread]]:
    outcomes: dict = {}

    def call(item):
        try:
            outcomes[item] = group.submit(item)
        except Exception as e:
            outcomes[item] = e

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return outcomes, threads


def wait_queued(group: GroupCommit, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(group._queued) < n:
        assert time.monotonic() < deadline, f"{len(group._queued)} of {n} queued"
        time.sleep(0.001)


def test_a_request_alone_is_flushed_at_once_in_its_own_thread():
    flushes = Flushes()
    group = GroupCommit(flushes)
    assert group.submit("a") == "result of a"
    assert group.submit("b") == "result of b"
    assert flushes.groups == [["a"], ["b"]]
    assert (group.groups, group.items) == (2, 2)


def test_requests_arriving_during_a_flush_share_the_next_one_each_with_its_own_result():
    flushes = Flushes(hold_first=True)
    group = GroupCommit(flushes)
    first, leader = submit_in_threads(group, ["a"])
    assert flushes.entered.wait(10)
    outcomes, threads = submit_in_threads(group, ["b", "c", "d", "e"])
    wait_queued(group, 4)
    flushes.release.set()
    for thread in leader + threads:
        thread.join(10)
    assert flushes.groups[0] == ["a"]
    assert sorted(flushes.groups[1]) == ["b", "c", "d", "e"] and len(flushes.groups) == 2
    assert first == {"a": "result of a"}
    assert outcomes == {item: f"result of {item}" for item in "bcde"}


def test_a_group_is_at_most_max_group_and_the_rest_follows():
    flushes = Flushes(hold_first=True)
    group = GroupCommit(flushes, max_group=2)
    _, leader = submit_in_threads(group, ["a"])
    assert flushes.entered.wait(10)
    outcomes, threads = submit_in_threads(group, ["b", "c", "d", "e", "f"])
    wait_queued(group, 5)
    flushes.release.set()
    for thread in leader + threads:
        thread.join(10)
    assert [len(items) for items in flushes.groups] == [1, 2, 2, 1]
    assert sorted(item for items in flushes.groups for item in items) == list("abcdef")
    assert outcomes == {item: f"result of {item}" for item in "bcdef"}


def test_a_failed_flush_raises_in_every_caller_of_its_group_and_the_next_group_still_runs():
    flushes = Flushes(hold_first=True, fail={"b"})
    group = GroupCommit(flushes, max_group=3)
    _, leader = submit_in_threads(group, ["a"])
    assert flushes.entered.wait(10)
    outcomes, threads = submit_in_threads(group, ["b", "c", "d", "e"])
    wait_queued(group, 4)
    group._queued.sort(key=lambda entry: entry.item)  # b, c, d in the failing group; e after it
    flushes.release.set()
    for thread in leader + threads:
        thread.join(10)
    assert all(isinstance(outcomes[item], ConnectionError) for item in "bcd")
    assert outcomes["e"] == "result of e"
    assert group.submit("f") == "result of f"  # nothing is left stuck


def test_a_flush_that_returns_the_wrong_number_of_results_is_an_error_not_a_silent_mismatch():
    group = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="returned 0 results"):
        group.submit("a")
