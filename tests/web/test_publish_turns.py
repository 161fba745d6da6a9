"""Under a broker alarm, requests wait their turn at the broker only for what is left of their own
deadline (BROKER_SEND_TIMEOUT, counted from the request), never one deadline per request ahead of them
(web/publishing.py)."""

import threading
import time

from core.errors import Unavailable
from db import Job


def test_keyed_requests_under_a_broker_alarm_all_answer_503_within_about_one_deadline(
    app_for, sender_stub, monkeypatch
):
    client = app_for(sender_stub, broker_send_timeout=1)
    publisher, alarm = threading.Lock(), threading.Event()  # one publish at a time, as the API's publisher

    def send(*job_ids, hint=None):
        with publisher:
            alarm.wait(1.0)  # the broker blocks publishers: each publish waits out its deadline
            raise Unavailable("the message broker is unavailable (PublishTimeout)")

    monkeypatch.setattr(sender_stub, "send", send)
    answers, took = [], []

    def post(index: int) -> None:
        started = time.monotonic()
        answers.append(
            client.simulate_post("/inference", json={"inputs": "x"}, headers={"Idempotency-Key": f"k{index}"})
        )
        took.append(time.monotonic() - started)

    threads = [threading.Thread(target=post, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status_code for answer in answers] == [503] * 4
    assert max(took) < 2.5, took  # one deadline and a margin; in line behind each other it was 4 s
    assert all(job.never_enqueued for job in Job.select())  # nothing left queued without a message
