"""Stand-ins for a unit test of `Dispatch`: a batcher whose futures the test resolves, a consumer that records
acks and nacks, a middleware that records the hooks it saw."""

from concurrent.futures import Future

from dramatiq import Middleware


class Batcher:
    max_jobs = 32

    def __init__(self):
        self.submitted: list[list[str]] = []
        self.hints: list = []  # the hint each submission carried (None: none)
        self.futures: list[Future] = []

    def submit_many(self, job_ids, hint=None):
        futures = [Future() for _ in job_ids]
        self.submitted.append(list(job_ids))
        self.hints.append(hint)
        self.futures += futures
        return futures


class Consumer:
    def __init__(self, broker, fail: Exception | None = None):
        self.broker = broker
        self.fail = fail
        self.acked: list[str] = []
        self.nacked: list[str] = []

    def ack(self, message):
        if self.fail:
            raise self.fail
        self.acked.append(message.message_id)

    def nack(self, message):
        self.nacked.append(message.message_id)


class Recorder(Middleware):
    def __init__(self, fail_before=False):
        self.calls = []
        self.fail_before = fail_before

    def before_process_message(self, broker, message):
        self.calls.append(("before", message.message_id))
        if self.fail_before:
            message.fail()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.calls.append(("after", message.message_id, type(exception).__name__ if exception else None))
