"""Child processes for the tests, the chaos run and the benchmark harness: one way to start them (output
kept in a log file), watch them and always stop them (SIGTERM, then SIGKILL after a bound)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def command(name: str) -> str:
    """A console script of this environment (`inference-api`, `dramatiq`), as the Procfile runs it."""
    return str(BIN / name)


class ServiceDied(RuntimeError):
    pass


class Service:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, *, append: bool = False):
        self.name, self.args, self.env, self.log, self.append = name, args, env, log, append
        self.process: subprocess.Popen | None = None

    def start(self) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab" if self.append else "wb") as out:
            self.process = subprocess.Popen(
                self.args, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> None:
        """Raise, with the end of its log, if the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise ServiceDied(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 120.0) -> float:
        """Wait until `text` appears `count` times in the log; returns the wall-clock time it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text(errors="replace").count(text) >= count:
                return time.time()
            self.alive()
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: {text!r} x{count} not in its log after {timeout:.0f} s:\n{self.tail()}")

    def children(self) -> list[int]:
        return children(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in self.children():
                _kill(pid)
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def running(args: list[str], env: dict[str, str], log: Path, timeout: float = 15.0):
    """Start `args` for the length of a `with` block; yields the `subprocess.Popen`."""
    service = Service(Path(args[0]).name, args, env, log).start()
    try:
        yield service.process
    finally:
        service.stop(timeout)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


TICK = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks


def read_stat(pid: int) -> tuple[str, list[str]]:
    """A process' command name and the fields of /proc/PID/stat after it (state, parent pid, ...: field
    n of proc(5) at index n - 3); OSError when the process is gone. The name is read between the first "("
    and the last ")", so one holding spaces and parentheses stays whole."""
    head, _, tail = Path(f"/proc/{pid}/stat").read_text().rpartition(")")
    return head.partition("(")[2], tail.split()


def every_process() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, fields after the name) of every process now; one that ends while read is
    passed over."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, fields = read_stat(int(entry.name))
            except OSError:
                continue
            yield int(entry.name), name, fields


def cpu_of(fields: list[str]) -> float:
    """User + system CPU seconds (all its threads) in a process' stat fields (`read_stat`)."""
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    """The direct children of `pid`, from /proc."""
    return sorted(child for child, _, fields in every_process() if int(fields[1]) == pid)


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system, all its threads), from /proc."""
    return cpu_of(read_stat(pid)[1])


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now (VmRSS) and at its peak (VmHWM), in MB (MiB)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values["rss" if key == "VmRSS" else "peak"] = round(int(rest.split()[0]) / 1024, 1)
    return values


def wait_http(service: Service, port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.alive()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{service.name} did not answer {path} within {timeout:.0f} s:\n{service.tail()}")
