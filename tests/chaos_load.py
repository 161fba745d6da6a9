"""The chaos run's load and its reading of the database: clients that POST at a steady rate and retry
each request with its Idempotency-Key until it is accepted, snapshots of the accepted jobs, and the tally
of what became of them (and of their webhooks)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import uuid

from tests.webhook_receiver import Receiver


class Load(threading.Thread):
    """POSTs at a steady rate until `total` jobs are accepted and the faults are over (`settled`); each
    request retries with its Idempotency-Key until it is accepted."""

    def __init__(
        self, port: int, total: int, rate: float, in_fault: threading.Event, report, webhook: str | None = None
    ):
        super().__init__(daemon=True)
        self.port, self.total, self.rate, self.in_fault, self.report = port, total, rate, in_fault, report
        self.webhook = webhook  # client 0 asks for it on every job
        self.accepted: list[str] = []
        self.hooked: list[str] = []
        self.lock = threading.Lock()
        self.settled = threading.Event()  # set once every fault has been injected

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _client(self, index: int) -> None:
        connection = None
        n = index
        while True:
            with self.lock:
                if len(self.accepted) >= self.total and self.settled.is_set():
                    return
            hooked = index == 0 and self.webhook is not None
            body = json.dumps(
                {"inputs": f"chaos message {n} from client {index}", **({"webhook": self.webhook} if hooked else {})}
            )
            key = str(uuid.uuid4())
            while True:  # a client that keeps its promise: retry the same request until it is accepted
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    connection.request(
                        "POST",
                        "/inference",
                        body,
                        {"content-type": "application/json", "Idempotency-Key": key},
                    )
                    response = connection.getresponse()
                    payload = json.loads(response.read() or b"{}")
                    status = response.status
                except (OSError, http.client.HTTPException, ValueError):
                    connection = None
                    status, payload = 599, {}
                if status in (200, 202):
                    with self.lock:
                        self.accepted.append(payload["id"])
                        if hooked:
                            self.hooked.append(payload["id"])
                    break
                if status >= 500:
                    field_name = "http_5xx_during_faults" if self.in_fault.is_set() else "http_5xx_outside_faults"
                    setattr(self.report, field_name, getattr(self.report, field_name) + 1)
                self.report.client_retries += 1
                time.sleep(0.5)  # deliberate: a client's pause before it retries
            n += 4
            time.sleep(4 / self.rate)  # deliberate: the load's pace


def psql(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url, connect_timeout=5)) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def snapshot(url: str, ids: list[str]) -> dict[str, tuple]:
    """The terminal jobs among `ids`: id -> (status, finished_at, hash of output and error, attempts)."""
    if not ids:
        return {}
    quoted = ",".join(f"'{i}'" for i in ids)
    rows = psql(
        url,
        "SELECT id::text, status, finished_at, "
        "md5(coalesce(output::text, '') || coalesce(encode(vectors, 'hex'), '') || coalesce(error, '')), attempts "
        f"FROM job WHERE id IN ({quoted}) AND status IN ('succeeded', 'failed', 'canceled')",
    )
    return {row[0]: row[1:] for row in rows}


def _recovery(name: str, database_url: str, ids: list[str], seen: dict, timeout: float = 300) -> dict:
    """How many of `ids` were unfinished when the fault ended, and how long until all of them finished."""
    ended = time.monotonic()
    unfinished = None
    while True:
        current = snapshot(database_url, ids)
        seen.update({i: row for i, row in current.items() if i not in seen})
        if unfinished is None:
            unfinished = len(ids) - len(current)
        if len(current) >= len(ids) or time.monotonic() - ended > timeout:
            left = len(ids) - len(current)
            return {
                "fault": name,
                "unfinished_at_end": unfinished,
                "still_unfinished": left,
                "seconds_to_finish": round(time.monotonic() - ended, 1),
            }
        time.sleep(1)


def received(hooks: Receiver) -> set[str]:
    """The job ids the receiver got a correctly signed call for, answered 2xx."""
    return {c.payload["data"]["id"] for c in list(hooks.calls) if c.payload is not None and c.answered < 300}


def tally(report, load: Load, final: dict, failed: list, seen: dict, hooks: Receiver) -> None:
    report.accepted = len(load.accepted)
    report.lost = report.accepted - len(final)
    report.written_twice += sum(1 for i, row in final.items() if i in seen and seen[i][:3] != row[:3])
    report.re_executions = sum(max(0, row[3] - 1) for row in final.values())
    for status, *_ in final.values():
        report.succeeded += status == "succeeded"
        report.failed += status == "failed"
    accepted_ids = set(load.accepted)
    for job_id, error, failure in failed:
        if job_id in accepted_ids:
            reason = (error or "")[:80]
            report.failed_reasons[reason] = report.failed_reasons.get(reason, 0) + 1
            report.failed_as_lost += failure == "lost"
    finished_hooked = set(load.hooked) & set(final)
    report.webhooks_expected = len(finished_hooked)
    report.webhooks_missing = len(finished_hooked - received(hooks))
    report.webhooks_unsigned = sum(1 for c in list(hooks.calls) if c.payload is None)
    report.webhook_calls = len(hooks.calls)
