"""LOG_FORMAT, WORKER_HEARTBEAT_DIR and BUILD_COMMIT, and the log formats they choose."""

import json
import logging
import queue
import time
from pathlib import Path

import pytest

from core import logs
from core.config import Config, ConfigError


def test_logs_are_json_with_a_real_broker_and_text_when_embedded_unless_told():
    assert Config.from_env({"BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/"}).log_format == "json"
    assert Config.from_env({}).log_format == "text"
    assert Config.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"


def test_an_unknown_log_format_is_a_configuration_error_naming_the_variable():
    with pytest.raises(ConfigError, match="LOG_FORMAT must be json or text"):
        Config.from_env({"LOG_FORMAT": "xml"})


def test_heartbeat_dir_and_build_commit_have_defaults_and_can_be_set():
    assert Config.from_env({}).worker_heartbeat_dir == Path("/tmp/inference-api/heartbeats")
    config = Config.from_env({"WORKER_HEARTBEAT_DIR": "/run/beats", "BUILD_COMMIT": "abc123"})
    assert (config.worker_heartbeat_dir, config.build_commit) == (Path("/run/beats"), "abc123")


def test_a_json_line_carries_the_request_id_and_the_extra_fields():
    record = logging.LogRecord("web.requests", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.status = 200
    token = logs.request_id.set("req-1")
    try:
        logs.RequestId().filter(record)
    finally:
        logs.request_id.reset(token)
    line = json.loads(logs.formatter("json").format(record))
    assert line["message"] == "GET /x" and line["level"] == "INFO" and line["logger"] == "web.requests"
    assert line["request_id"] == "req-1" and line["status"] == 200


BACKGROUND = """
import logging, threading
from core import logs
logs.configure("INFO", "json", background=True)
log = logging.getLogger("web.intake")

def serve(n):
    token = logs.request_id.set(f"req-{n}")
    try:
        items = [n]
        log.info("job %s accepted", items, extra={"job_id": f"job-{n}"})
        items.append("changed after the call")  # the line says what was true when it was logged
    finally:
        logs.request_id.reset(token)

threads = [threading.Thread(target=serve, args=(n,)) for n in range(20)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
try:
    raise ValueError("boom")
except ValueError:
    log.exception("failed")
"""


def test_background_logging_writes_every_line_as_the_calling_thread_saw_it_before_exit():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", BACKGROUND], capture_output=True, text=True, timeout=30, check=True)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    accepted = {line["job_id"]: line for line in lines if line["message"].endswith("accepted")}
    assert len(accepted) == 20  # nothing lost at exit
    for n in range(20):
        assert accepted[f"job-{n}"]["request_id"] == f"req-{n}"  # the context of the thread that logged
        assert accepted[f"job-{n}"]["message"] == f"job [{n}] accepted"
    [failed] = [line for line in lines if line["message"] == "failed"]
    assert "ValueError: boom" in failed["exc_info"] and failed["level"] == "ERROR"


def test_the_writer_writes_what_was_queued_in_turns_each_handler_at_its_own_level():
    records: queue.SimpleQueue = queue.SimpleQueue()
    everything, warnings = _Collect(logging.DEBUG), _Collect(logging.WARNING)
    writer = logs.Writer(records, [everything, warnings], every=3600)  # only `write_queued` and `stop` write
    writer.start()
    try:
        for level in (logging.DEBUG, logging.WARNING):
            records.put(logging.LogRecord("x", level, __file__, 1, f"at {level}", None, None))
        assert writer.write_queued() == 2
        assert everything.messages == ["at 10", "at 30"] and warnings.messages == ["at 30"]
        records.put(logging.LogRecord("x", logging.ERROR, __file__, 1, "left at stop", None, None))
    finally:
        writer.stop()
    assert warnings.messages == ["at 30", "left at stop"]  # stop writes what is left, without waiting a turn


def test_the_writer_writes_a_line_within_its_turn():
    records: queue.SimpleQueue = queue.SimpleQueue()
    handler = _Collect(logging.INFO)
    writer = logs.Writer(records, [handler], every=0.01)
    writer.start()
    try:
        records.put(logging.LogRecord("x", logging.INFO, __file__, 1, "soon", None, None))
        deadline = time.monotonic() + 5
        while not handler.messages and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        writer.stop()
    assert handler.messages == ["soon"]


class _Collect(logging.Handler):
    def __init__(self, level: int):
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_handler_that_fails_does_not_stop_the_writer(capsys):
    class Failing(logging.Filter):
        def filter(self, record):
            raise ValueError("filter broke")

    records: queue.SimpleQueue = queue.SimpleQueue()
    broken, fine = _Collect(logging.INFO), _Collect(logging.INFO)
    broken.addFilter(Failing())
    writer = logs.Writer(records, [broken, fine], every=3600)
    for n in range(2):
        records.put(logging.LogRecord("x", logging.INFO, __file__, 1, f"line {n}", None, None))
    assert writer.write_queued() == 2
    assert fine.messages == ["line 0", "line 1"]
    assert "filter broke" in capsys.readouterr().err
