"""Private PostgreSQL and RabbitMQ servers, started by the tests themselves, for the tests that stop them or
raise a broker alarm: the machine's shared servers are never disturbed.

PostgreSQL: `initdb` a temporary data directory (as the `postgres` OS user when we are root: PostgreSQL
refuses to run as root), `pg_ctl start` on a free port with trust auth and fsync off. RabbitMQ: a node of its
own (`inference_test_<pid>_<n>@localhost`) on free ports with its own data, log and config, no plugins,
driven with `rabbitmqctl -n <node>`. Both are stopped and removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from harness.servers import postgres_database
from tests.servers import reachable

_counter = itertools.count()


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def available() -> str | None:
    """None when both private servers can be started here, else why not."""
    if _pg_bin() is None:
        return "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin"
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        return "rabbitmq-server / rabbitmqctl not found"
    if os.geteuid() == 0:
        for user in ("postgres", "rabbitmq"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                return f"running as root and there is no {user!r} OS user to run the server as"
    return None


def _restartable_port() -> int:
    """A free port below the kernel's ephemeral range, for a server these tests stop and start again.

    A port from the ephemeral range (what binding port 0 gives) can be taken while its server is down: by the
    source end of any outgoing connection, or by a client retrying 127.0.0.1:port that the kernel connects to
    itself (TCP simultaneous open). The server then fails to listen again with EADDRINUSE.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = range(10000, max(low, 10001))
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 10000 and {low}")


def _workdir(owner: str) -> Path:
    """A directory the server's OS user owns (pytest's tmp_path is closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix=f"inference-private-{owner}-"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _wait(url: str, up: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while reachable(url) != up:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come {'up' if up else 'down'} within {timeout} s")
        time.sleep(0.2)


class PrivatePostgres:
    def __init__(self):
        self.bin = _pg_bin()
        self.root = _workdir("postgres")
        self.data = self.root / "data"
        self.port = _restartable_port()
        self.log = self.root / "postgres.log"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start")
        _wait(self.admin_url, True, 30)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        _wait(self.admin_url, False, 30)

    def create_database(self, name: str) -> str:
        postgres_database(self.admin_url, name)
        return self.url(name)

    def remove(self) -> None:
        if reachable(self.admin_url):
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRabbitmq:
    def __init__(self):
        self.root = _workdir("rabbitmq")
        self.node = f"inference_test_{os.getpid()}_{next(_counter)}@localhost"
        self.port, self.dist_port = _restartable_port(), _restartable_port()
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        for name in ("env.conf", "plugins"):
            (self.root / name).write_text("")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("rabbitmq")
            for path in self.root.iterdir():
                os.chown(path, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args], capture_output=True, text=True, check=False, timeout=120
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def start(self) -> None:
        env = os.environ | {
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"),  # not the machine's (it names its node)
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),  # .conf is appended
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True, capture_output=True, cwd=self.root)
        try:
            _wait(self.url, True, 120)  # the node registers, boots, then listens: 5 to 30 s on a busy machine
        except RuntimeError:
            logs = "".join(p.read_text(errors="replace")[-2000:] for p in (self.root / "log").glob("*.log"))
            raise RuntimeError(f"private RabbitMQ {self.node} did not start:\n{logs}") from None

    def stop_app(self) -> None:
        self.ctl("stop_app")
        _wait(self.url, False, 30)

    def start_app(self) -> None:
        self.ctl("start_app")
        _wait(self.url, True, 60)

    def memory_watermark(self) -> str:
        """The relative watermark in force (e.g. "0.4"), to restore after an alarm."""
        return self.ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip() or "0.4"

    @contextlib.contextmanager
    def memory_alarm(self) -> Iterator[None]:
        """A real memory alarm (the broker blocks publishers) while inside; the watermark restored after."""
        previous = self.memory_watermark()
        self.ctl("set_vm_memory_high_watermark", "0")
        try:
            yield
        finally:
            self.ctl("set_vm_memory_high_watermark", previous)

    def remove(self) -> None:
        self.ctl("stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbitmq]:
    server = PrivateRabbitmq()
    try:
        server.start()
        yield server
    finally:
        server.remove()
