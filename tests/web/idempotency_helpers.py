"""A broker alarm for the first publish only, and two keyed requests racing over it: shared by the
SQLite test (tests/web) and the PostgreSQL one (tests/integration)."""

from __future__ import annotations

import threading

from core.errors import Unavailable


def race_over_a_blocked_first_send(monkeypatch, sender, post) -> tuple:
    """Two requests with the same Idempotency-Key and body; the sender's first publish waits (a broker
    alarm) and then fails as a publish deadline does, later ones go through. The second request starts
    once the first is publishing; the alarm ends as soon as the second has answered, or after 2 s (the
    publish deadline: a replay that takes turns waits that long). Returns the two answers."""
    blocked, answered = threading.Event(), threading.Event()
    real_send, calls, answers = sender.send, [], {}

    def send(*job_ids, hint=None):
        calls.append(job_ids)
        if len(calls) == 1:
            blocked.set()
            answered.wait(2.0)
            raise Unavailable("the message broker is unavailable (PublishTimeout)")
        return real_send(*job_ids, hint=hint)

    monkeypatch.setattr(sender, "send", send)

    def first():
        answers["first"] = post()

    def second():
        assert blocked.wait(10)
        answers["second"] = post()
        answered.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers["first"], answers["second"]
