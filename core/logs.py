"""Logging, set up once by each composition root: JSON lines (python-json-logger, with orjson) or plain text.

Every line carries the request id of the request being served (`request_id`, set by the web tier), and
whatever a call passes in `extra` (`job_id`, `model`, `status`, `ms`, ...) becomes a JSON field. User
text (inputs, outputs) is logged at debug level only.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from contextvars import ContextVar
from logging.handlers import QueueHandler

from pythonjsonlogger.orjson import OrjsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestId(logging.Filter):
    """Put the current request id on the record (a JSON field), when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


def formatter(style: str) -> logging.Formatter:
    if style == "text":
        return logging.Formatter(TEXT_FORMAT)
    # python-json-logger's orjson flavour: the same fields, a fifth less CPU a line than its json one
    return OrjsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


class _Queued(QueueHandler):
    """Hands a record to the writer thread as it is (same process: its exc_info can travel along), with
    its message merged now, while its arguments are still what they were."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg, record.args = record.getMessage(), None
        return record


class Writer:
    """The thread that writes queued records through `handlers`, each at its own level. It wakes every
    `every` seconds and writes what was queued meanwhile, where `logging.handlers.QueueListener` is woken
    for each record: with a line per request, that wake-up (and the GIL changing hands twice for it) costs
    the API more than formatting the line. A line is written at most `every` seconds after it was logged;
    `stop` writes what is left."""

    def __init__(self, records: queue.SimpleQueue, handlers: list[logging.Handler], *, every: float = 0.05):
        self.records, self.handlers, self.every = records, handlers, every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            self.write_queued()
        self.write_queued()

    def write_queued(self) -> int:
        """Write every record queued by now; returns how many."""
        written = 0
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                return written
            for handler in self.handlers:
                if record.levelno >= handler.level:
                    try:
                        handler.handle(record)
                    except Exception:  # a failing filter: said on stderr, as `logging` does, and the thread goes on
                        handler.handleError(record)
            written += 1


def configure(level: str, style: str, *, background: bool = False) -> None:
    """Format the root logger's lines as `style` (json or text) at `level`.

    Under the dramatiq CLI the root logger already has Dramatiq's handler (a pipe to the main process,
    which writes the lines out): it is kept and reformatted. Elsewhere a handler on stderr is added.

    With `background` (the API), the threads that log only queue their records and one thread (`Writer`)
    formats and writes them in turns, rather than 48 request threads each writing and flushing their own
    lines under the GIL. The thread writes what is queued before the process exits."""
    # Neither format shows where a call was made from, nor its thread or process: the logging module then
    # skips finding the caller's frame and reading those for every record (the logging HOWTO's optimization).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter(style))
        if not any(isinstance(f, RequestId) for f in handler.filters):
            handler.addFilter(RequestId())
    if background and not any(isinstance(h, _Queued) for h in root.handlers):
        records: queue.SimpleQueue = queue.SimpleQueue()
        writer = Writer(records, list(root.handlers))
        queued = _Queued(records)
        queued.addFilter(RequestId())  # in the logging thread: the request id is a context variable
        root.handlers = [queued]
        writer.start()
        atexit.register(writer.stop)
    root.setLevel(level)
    # pika reports every connection opened and closed at INFO (the queue-depth reads, /readyz), and every failed
    # attempt with a traceback during an outage, which our loops log once: pika's own lines at debug only.
    numeric = root.getEffectiveLevel()
    logging.getLogger("pika").setLevel(numeric if numeric <= logging.DEBUG else logging.CRITICAL)
