"""The chaos run's batch: a JSONL of embedding lines uploaded (`POST /v1/files`) and run as a batch
(`POST /v1/batches`) before the faults start, so its jobs are in flight on the bulk lane through them; its
state is read at the start and the end of each fault, and once the faults are over the run waits (bounded)
for it to end, downloads its output and error files and counts every line's answers by `custom_id`.

Every line must be answered exactly once, in the output file: the faults are transient, so a line missing,
answered twice (across both files) or in the error file is a bug, and so is a batch that never reaches
`completed` or whose `request_counts` disagree with its files."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.web.bulk_helpers import jsonl, multipart

ENDED = ("completed", "failed", "expired", "cancelled")
PROBE_LINES = 128
IN_FLIGHT_FAULTS = 3  # the first faults of the plan, injected back to back while the batch runs
MIN_LINES, MAX_LINES = 300, 5000
WORDS = "the quick brown fox jumps over lazy dog vai corinthians rato roeu roupa rei de roma".split()


@dataclass
class BatchReport:
    id: str = ""
    lines: int = 0  # sized by the probe's pace
    pace: float = 0.0  # lines/s the bulk lane answered a probe batch at, alone, before the load
    status: str = ""  # at the end of the wait
    seconds: float = 0.0  # from its creation until it ended (or the wait gave up)
    in_flight_through: list[str] = field(default_factory=list)  # faults it was unfinished at the start and end of
    progress: list[dict] = field(default_factory=list)  # per fault: when it ended (s after the batch's creation),
    # the batch's status then, and its lines answered at the fault's start and end
    answered: int = 0  # distinct custom_ids of the input answered in the output file
    missing: int = 0  # lines of the input answered in neither file
    twice: int = 0  # lines answered more than once, the output and error files counted together
    in_error_file: int = 0  # lines of the error file
    unknown: int = 0  # answers whose custom_id is not one of the input's
    request_counts: dict = field(default_factory=dict)
    counts_agree: bool = False  # request_counts match the files: total, completed (output), failed (error)


def lines(count: int, words: int, prefix: str = "chaos") -> bytes:
    """`count` embedding requests (`custom_id` chaos-0 ...), each of one text of `words` words; the vectors
    come back in base64, so the output file stays small (about 2 KB a line)."""
    requests = []
    for i in range(count):
        text = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) + f" #{i}"
        body = {"input": text, "encoding_format": "base64"}
        requests.append({"custom_id": f"{prefix}-{i}", "method": "POST", "url": "/v1/embeddings", "body": body})
    return jsonl(requests)


class ChaosBatch:
    """One batch through the chaos run, spoken to over HTTP as a client would: every call retried (connection
    refused, 5xx) until a deadline, as a client that keeps its promise.

    It is sized by time, not lines: a probe batch of `PROBE_LINES` runs first, alone, and the batch gets the
    lines the bulk lane answers in `seconds` at the probe's pace (at least `MIN_LINES`), so it is still in
    flight through the first faults on a fast machine and does not run for minutes past them on a busy one."""

    def __init__(self, port: int, seconds: float, words: int = 48):
        self.port, self.seconds, self.words = port, seconds, words
        self.report = BatchReport()
        self.created = 0.0

    def create(self) -> None:
        """Probe the pace, then upload the file and create the batch (none when `seconds` is 0): before the
        faults, so no call meets one."""
        if not self.seconds:
            return
        self.report.pace = round(self._pace(self._create(PROBE_LINES, "probe")), 1)
        count = min(MAX_LINES, max(MIN_LINES, round(self.report.pace * self.seconds)))
        self.report.id, self.report.lines = self._create(count, "chaos"), count
        self.created = time.monotonic()

    def _pace(self, probe: str) -> float:
        """Lines/s the bulk lane answered the probe at, from its first answered line to its last."""
        started = now = time.monotonic()
        first, done, batch = None, 0, self.state(probe)
        while batch["status"] not in ENDED and now - started < 120:
            time.sleep(0.1)
            batch, now = self.state(probe), time.monotonic()
            done = batch["request_counts"]["completed"]
            first = first or (done and (now, done))  # jobs finish a worker's batch at a time: from the first
        if first and done > first[1]:
            return (done - first[1]) / (now - first[0])
        return max(done, 1) / (now - started)  # all answered at once: counted from its creation

    def _create(self, count: int, prefix: str) -> str:
        form = multipart(lines(count, self.words, prefix), name=f"{prefix}.jsonl")
        uploaded = self._call("POST", "/v1/files", form["body"], form["content_type"])
        body = {"input_file_id": uploaded["id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}
        return self._call("POST", "/v1/batches", json.dumps(body).encode(), "application/json", retry=False)["id"]

    def pause(self, index: int, interval: float) -> float:
        """Seconds to wait before the plan's fault `index`: `interval`, but none before the first
        `IN_FLIGHT_FAULTS` when there is a batch (the first once the batch answers lines), so they meet it in
        flight however fast the machine."""
        if not self.report.id or index >= IN_FLIGHT_FAULTS:
            return interval
        started = time.monotonic()
        while index == 0 and not self.state()["request_counts"]["completed"] and time.monotonic() - started < 120:
            time.sleep(0.2)
        return 0

    def state(self, batch_id: str = "") -> dict:
        batch_id = batch_id or self.report.id
        return self._call("GET", f"/v1/batches/{batch_id}") if batch_id else {}

    def around(self, name: str, before: dict) -> None:
        """Note the batch's state at the end of fault `name` (`before`: at its start)."""
        if not self.report.id:
            return
        after = self.state()
        unfinished = all(s["status"] not in ENDED for s in (before, after))
        if unfinished and before["request_counts"]["completed"] < self.report.lines:
            self.report.in_flight_through.append(name)
        done = [s["request_counts"]["completed"] for s in (before, after)]
        at = round(time.monotonic() - self.created, 1)
        self.report.progress.append({"fault": name, "ended_at": at, "status": after["status"], "completed": done})

    def finish(self, timeout: float) -> BatchReport:
        """Wait until the batch ended (at most `timeout` s), then count its files' answers."""
        if not self.report.id:
            return self.report
        deadline = time.monotonic() + timeout
        batch = self.state()
        while batch["status"] not in ENDED and time.monotonic() < deadline:
            time.sleep(1)
            batch = self.state()
        report = self.report
        report.status, report.seconds = batch["status"], round(time.monotonic() - self.created, 1)
        report.request_counts = batch["request_counts"]
        output, errors = self._lines(batch["output_file_id"]), self._lines(batch["error_file_id"])
        count_answers(report, output, errors)
        return report

    def _lines(self, file_id: str | None) -> list[dict]:
        if file_id is None:
            return []
        content = self._call("GET", f"/v1/files/{file_id}/content", raw=True)
        return [json.loads(line) for line in content.splitlines() if line.strip()]

    def _call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "", *, raw=False, retry=True
    ):
        deadline = time.monotonic() + (120 if retry else 0)  # a batch created twice would be counted as missing
        while True:
            status, data = _request(self.port, method, path, body, content_type)
            if status == 200:
                return data if raw else json.loads(data)
            if status < 500 or time.monotonic() > deadline:  # a 4xx is the run's own mistake: say it
                raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
            time.sleep(0.5)  # deliberate: a client's pause before it retries


def count_answers(report: BatchReport, output: list[dict], errors: list[dict]) -> None:
    """Fill `report`'s counts from the lines of the output and error files, by `custom_id`."""
    expected = {f"chaos-{i}" for i in range(report.lines)}
    seen = Counter(line.get("custom_id") for line in output + errors)
    report.answered = len({line.get("custom_id") for line in output} & expected)
    report.missing = len(expected - set(seen))
    report.twice = sum(1 for custom_id, n in seen.items() if n > 1 and custom_id in expected)
    report.in_error_file = len(errors)
    report.unknown = sum(n for custom_id, n in seen.items() if custom_id not in expected)
    counts = report.request_counts
    files = (report.lines, len(output), len(errors))
    report.counts_agree = (counts.get("total"), counts.get("completed"), counts.get("failed")) == files


def whole(batch: dict) -> bool:
    """Whether the batch of a run's report (`BatchReport` as a dict) kept its promise: completed, every line
    answered once in the output file, and counts that agree; true when the run had no batch."""
    if not batch.get("id"):
        return True
    answered = (batch["answered"], batch["missing"], batch["twice"], batch["in_error_file"], batch["unknown"])
    return batch["status"] == "completed" and answered == (batch["lines"], 0, 0, 0, 0) and batch["counts_agree"]


def _request(port: int, method: str, path: str, body: bytes | None, content_type: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body, {"content-type": content_type} if content_type else {})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return 599, b""
    finally:
        connection.close()
