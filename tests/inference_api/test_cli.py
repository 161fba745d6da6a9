"""The `inference-api` command as a user meets it: a busy port fails in a moment with one line naming the
fix, `--version` answers, and every command's `--help` says what it does."""

import os
import socket
import subprocess
import sys

import pytest

from core import __version__
from inference_api.cli import main


def inference_api(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inference_api", *args],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_on_a_busy_port_exits_with_one_line_naming_port_before_touching_the_database(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = inference_api("serve", "--port", str(port), DATA_DIR=str(tmp_path), MODELS_DIR=str(tmp_path / "m"))

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "already in use" in lines[0]
    assert "PORT" in lines[0] and "--port" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no database created: the migrations and the model did not run


def test_serve_on_an_address_not_of_this_host_names_host(tmp_path):
    done = inference_api("serve", "--host", "192.0.2.1", "--port", "8000", DATA_DIR=str(tmp_path), ALLOW_OPEN="1")

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "HOST" in done.stderr and "192.0.2.1:8000" in done.stderr


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"inference-api {__version__}"


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["serve"], "Serve the HTTP API"),
        (["migrate"], "Apply the pending migrations"),
        (["sweep"], "Send again the jobs left queued"),
        (["purge"], "Drop the inputs and outputs"),
        (["models", "prepare"], "Export catalog models to ONNX"),
        (["worker-alive"], "Exit 0 when a worker process wrote its heartbeat"),
    ],
)
def test_each_command_s_help_says_what_it_does(capsys, command, says):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert help_text.startswith(f"usage: inference-api {' '.join(command)}")
    assert says in help_text
