"""Worker liveness: each worker process touches a heartbeat file while its threads run; a probe checks.

Dramatiq's main process can hang for good when a worker process dies while it signals that it is ready,
and then restarts no worker process: the pod looks up and does nothing. So liveness is not "the main
process answers" but "some worker process is alive and beating": `LivenessBeat` (a Dramatiq middleware)
touches `DIRECTORY/<pid>` every `every` seconds from a thread of each worker process, while that
process' consumer and worker threads are alive, and removes it at a clean shutdown. `alive()` (the
`inference-api worker-alive` command, a Kubernetes liveness probe) is true when some file is fresher
than `max_age` and names a live process.

Threads alive are not enough: a batcher blocked on a database socket gone silent is alive and does
nothing while it holds its messages. So the beat also watches progress (`actors.progress`): while a loop
has had work for more than `stall_seconds` without a step, it removes the file (the probe fails at once,
not `max_age` later) and beats again once the loop moves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from dramatiq.middleware import Middleware

from actors.progress import PROGRESS, Progress

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 30.0
DEFAULT_STALL = 45.0  # seconds (`Config.stall_seconds`)


class LivenessBeat(Middleware):
    def __init__(
        self,
        directory: Path,
        *,
        every: float = 5.0,
        stall_seconds: float = DEFAULT_STALL,
        progress: Progress = PROGRESS,
    ):
        self.directory = Path(directory)
        self.every = every
        self.stall_seconds = stall_seconds
        self.progress = progress
        self._stopping = threading.Event()

    @property
    def path(self) -> Path:
        return self.directory / str(os.getpid())

    def after_worker_boot(self, broker, worker):
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._beat(worker)
        threading.Thread(target=self._run, args=(worker,), name="heartbeat", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stopping.set()
        self.path.unlink(missing_ok=True)

    def _run(self, worker) -> None:
        while not self._stopping.wait(self.every):
            self._beat(worker)

    def _beat(self, worker) -> None:
        threads = [*worker.consumers.values(), *worker.workers]
        if not all(thread.is_alive() for thread in threads):
            logger.error("worker threads died; no heartbeat: the liveness probe will restart this worker")
            return
        if stalled := self.progress.stalled(self.stall_seconds):
            loops = ", ".join(f"{name} for {seconds:.0f} s" for name, seconds in sorted(stalled.items()))
            logger.error("no progress with work pending (%s); no heartbeat: the probe will restart this worker", loops)
            self.path.unlink(missing_ok=True)
            return
        try:
            self.path.touch()
        except OSError as e:
            logger.warning("could not touch heartbeat %s: %s", self.path, e)


def alive(directory: Path, max_age: float = DEFAULT_MAX_AGE) -> list[int]:
    """The pids of live worker processes whose heartbeat is at most `max_age` seconds old."""
    now = time.time()
    found = []
    for path in Path(directory).glob("*"):
        if not path.name.isdigit():
            continue
        try:
            fresh = now - path.stat().st_mtime <= max_age
        except FileNotFoundError:  # removed by a process shutting down
            continue
        if fresh and running(int(path.name)):
            found.append(int(path.name))
    return sorted(found)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return _state(pid) != "Z"


def _state(pid: int) -> str:
    """The process state letter from /proc (Z: a zombie, dead but not reaped); empty where unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
