"""Run a file of inputs through the API: batched, concurrent, written in input order, resumable.

The records are cut into fixed chunks of `batch_size` (the plain inputs of a chunk make one job; a whole
request body makes a job of its own). Each job's `Idempotency-Key` is derived from what it sends (model,
parameters, line numbers and inputs), so a rerun sends the same keys: a chunk whose job was accepted
before an interruption gets that same job back instead of a second one, and lines already in the output
file are not written again. A rerun after completion sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from inference_client.client import Client
from inference_client.errors import APIError, InvalidRequest, JobTimeout, PayloadTooLarge, TransportError
from inference_client.readers import Record

KEY_SCHEME = "inference-client/submit/1"
INPUT_FIELD = re.compile(r"^inputs\[(\d+)\]$")


class Fatal(Exception):
    """Nothing more can succeed (a bad key, an unknown model, the server gone): stop the run."""


@dataclass(frozen=True)
class Options:
    model: str | None = None
    parameters: dict[str, Any] | None = None
    batch_size: int = 16
    concurrency: int = 8
    job_timeout: float = 600.0  # seconds a job may take before the run stops (a rerun asks for it again)
    prefer_wait: int = 30  # `Prefer: wait` of each POST


def batch_key(model: str | None, parameters: dict[str, Any] | None, records: Iterable[Record]) -> str:
    """The Idempotency-Key of one job: the same records sent the same way always give the same key."""
    sent = [[r.line, r.text if r.body is None else r.body] for r in records]
    payload = json.dumps([KEY_SCHEME, model, parameters, sent], sort_keys=True, ensure_ascii=False)
    return "submit-" + hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Summary:
    total: int  # records in the input
    done_before: int = 0  # already in the output file when the run started
    written: int = 0  # written by this run
    jobs: int = 0  # POSTs answered with a job
    replayed: int = 0  # of which the server already had (same Idempotency-Key)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (line, error), this run and before
    stopped_by: str | None = None  # a signal name, when interrupted
    fatal: str | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.done_before + self.written == self.total


class ResultsFile:
    """The output JSONL: one line per input record, in input order. Reopening it finds what is done."""

    def __init__(self, path: Path):
        self.path = path
        self.done: set[int] = set()
        self.failures: list[tuple[int, str]] = []
        self._file: IO[str] | None = None

    def load(self, lines: set[int]) -> None:
        """Read what an earlier run wrote; a last line cut short by a crash is dropped."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with self.path.open("r+b") as f:
                f.truncate(len(complete))
        for n, raw in enumerate(complete.decode("utf-8").splitlines(), 1):
            try:
                entry = json.loads(raw)
                line = int(entry["line"])
            except (ValueError, KeyError, TypeError):
                raise Fatal(f"{self.path}:{n} is not a result line: remove the file or pick another --out") from None
            if line not in lines:
                raise Fatal(f"{self.path} has a result for line {line}, which is not in the input (another file's?)")
            self.done.add(line)
            if "error" in entry:
                self.failures.append((line, str(entry["error"])))

    def write(self, entries: list[dict[str, Any]]) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.writelines(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Submitter:
    """Sends the chunks not yet done with `concurrency` threads and writes their results in order."""

    def __init__(self, client: Client, records: list[Record], results: ResultsFile, options: Options):
        self.client = client
        self.records = records
        self.results = results
        self.options = options
        self._stop = threading.Event()
        self._stopped_by: str | None = None
        self._lock = threading.Lock()
        self._jobs = 0
        self._replayed = 0

    def stop(self, reason: str) -> None:
        """Stop sending (a signal handler may call it): finished chunks are still written, in order."""
        self._stopped_by = self._stopped_by or reason
        self._stop.set()

    def run(self, *, progress: bool = True) -> Summary:
        started = time.monotonic()
        self.results.load({r.line for r in self.records})
        done = self.results.done
        summary = Summary(total=len(self.records), done_before=len(done), failures=list(self.results.failures))
        size = max(1, self.options.batch_size)
        chunks = [self.records[i : i + size] for i in range(0, len(self.records), size)]
        todo = [c for c in chunks if any(r.line not in done for r in c)]
        if todo:
            try:
                self.client.ping()
            except (TransportError, APIError) as e:
                summary.fatal = f"cannot reach the API at {self.client.base_url}: {e}"
                todo = []
        bar = tqdm(
            total=summary.total,
            initial=summary.done_before,
            unit="line",
            disable=not (progress and todo),
            dynamic_ncols=True,
        )
        try:
            self._run(todo, summary, bar)
        finally:
            bar.close()
            self.results.close()
        summary.jobs, summary.replayed = self._jobs, self._replayed
        summary.stopped_by = self._stopped_by
        summary.seconds = time.monotonic() - started
        return summary

    def _run(self, todo: list[list[Record]], summary: Summary, bar: tqdm) -> None:
        tasks: queue.Queue[int | None] = queue.Queue()
        finished: queue.Queue[tuple[int, list[dict[str, Any]] | None, BaseException | None]] = queue.Queue()
        threads = [
            threading.Thread(target=self._work, args=(todo, tasks, finished), daemon=True, name=f"submit-{i}")
            for i in range(max(1, min(self.options.concurrency, len(todo))))
        ]
        for thread in threads:
            thread.start()
        window = max(1, self.options.concurrency) * 4  # chunks held in memory ahead of the first unwritten one
        fed = written = 0
        ready: dict[int, list[dict[str, Any]]] = {}
        try:
            while written < len(todo):
                while not self._stop.is_set() and fed < len(todo) and fed - written < window:
                    tasks.put(fed)
                    fed += 1
                try:
                    outcome = finished.get(timeout=0.2) if not self._stop.is_set() else finished.get_nowait()
                except queue.Empty:
                    if self._stop.is_set():
                        break  # what is still in flight stays on the server: a rerun gets it back by its key
                    continue
                index, entries, error = outcome
                if error is not None:
                    summary.fatal = summary.fatal or str(error)
                    self.stop("error")
                    continue
                assert entries is not None
                ready[index] = [e for e in entries if e["line"] not in self.results.done]
                bar.update(len(ready[index]))
                while written in ready:
                    fresh = ready.pop(written)
                    self.results.write(fresh)
                    summary.written += len(fresh)
                    summary.failures.extend((e["line"], e["error"]) for e in fresh if "error" in e)
                    written += 1
                if summary.failures:
                    bar.set_postfix(failed=len(summary.failures), refresh=False)
        finally:
            for _ in threads:
                tasks.put(None)

    def _work(self, todo, tasks, finished) -> None:
        while True:
            index = tasks.get()
            if index is None or self._stop.is_set():
                return
            try:
                finished.put((index, self._chunk(todo[index]), None))
            except Fatal as e:
                finished.put((index, None, e))
            except Exception as e:  # a bug of ours: stop the run with it rather than hang
                finished.put((index, None, Fatal(f"{type(e).__name__}: {e}")))

    def _chunk(self, chunk: list[Record]) -> list[dict[str, Any]]:
        options = self.options
        entries: list[dict[str, Any]] = []
        texts = [r for r in chunk if r.body is None]
        if texts:
            entries += self._send(texts, [r.text for r in texts], options.model, options.parameters)
        for record in chunk:
            if record.body is not None:
                body = record.body
                model = body.get("model", options.model)
                parameters = body.get("parameters", options.parameters)
                entries += self._send([record], body["inputs"], model, parameters, whole=True)
        return sorted(entries, key=lambda e: e["line"])

    def _send(self, records, inputs, model, parameters, *, whole: bool = False) -> list[dict[str, Any]]:
        """One job for `records`; its results, one entry per record. Splits a batch the API refuses
        because of one input (422 naming `inputs[i]`) or its size (413, 422 on `inputs`)."""
        try:
            job = self.client.submit(
                inputs,
                model=model,
                parameters=parameters,
                idempotency_key=batch_key(model, parameters, records),
                wait=self.options.prefer_wait,
            )
            with self._lock:
                self._jobs += 1
                self._replayed += job.replayed
            if not job.finished:
                job = self.client.wait(job, timeout=self.options.job_timeout)
        except JobTimeout as e:  # not a failure of its lines: a rerun asks for the same job again
            raise Fatal(f"{e} (--job-timeout)") from None
        except (InvalidRequest, PayloadTooLarge) as e:
            bad = INPUT_FIELD.match(e.field or "") if isinstance(e, InvalidRequest) and not whole else None
            if bad and int(bad.group(1)) < len(records):
                i = int(bad.group(1))
                rest = records[:i] + records[i + 1 :]
                failed = [{"line": records[i].line, "error": str(e)}]
                return failed + (self._send(rest, [r.text for r in rest], model, parameters) if rest else [])
            too_big = isinstance(e, PayloadTooLarge) or e.field == "inputs"
            if too_big and len(records) > 1 and not whole:
                half = len(records) // 2
                return self._send(records[:half], inputs[:half], model, parameters) + self._send(
                    records[half:], inputs[half:], model, parameters
                )
            if whole or too_big or e.field in ("inputs", "text") or INPUT_FIELD.match(e.field or ""):
                return [{"line": r.line, "error": str(e)} for r in records]
            raise Fatal(str(e)) from None  # model, parameters, body: every other job would fail the same way
        except APIError as e:
            raise Fatal(str(e)) from None
        except TransportError as e:
            raise Fatal(f"cannot reach the API: {e}") from None
        if not job.succeeded:
            return [{"line": r.line, "job": job.id, "error": job.error or job.status} for r in records]
        if whole:
            return [{"line": records[0].line, "job": job.id, "output": job.output}]
        output = job.output or []
        if len(output) != len(records):
            error = f"job {job.id} gave {len(output)} outputs for {len(records)} inputs"
            return [{"line": r.line, "job": job.id, "error": error} for r in records]
        return [{"line": r.line, "job": job.id, "output": out} for r, out in zip(records, output, strict=True)]
