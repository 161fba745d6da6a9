"""`inference-api sweep --every` and `purge --every` run for days: an outage of the database or the
broker is logged and waited out, never the end of the process (inference_api/commands.py)."""

import signal

import pytest

from tests.processes import command, running, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["sweep", "purge"])
def test_a_looping_command_keeps_running_through_an_unreachable_database_and_logs_it(tmp_path, name):
    nowhere = free_port()
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{nowhere}/gone",
        "BROKER_URL": f"amqp://guest:guest@127.0.0.1:{nowhere}/",
        "LOG_FORMAT": "text",
    }
    log = tmp_path / f"{name}.log"
    with running([command("inference-api"), name, "--every", "1"], env, log) as process:
        wait_until(lambda: "carrying on" in log.read_text(), 30, f"{name} logging the outage")
        assert process.poll() is None, log.read_text()  # still running, not exited on the first error
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text and "failed (OperationalError" in text, text
