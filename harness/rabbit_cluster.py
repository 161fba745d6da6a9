"""A RabbitMQ cluster of our own on loopback: three nodes (`bed<id>_<n>@localhost`), each with its own AMQP and
distribution ports, data, log and config directories owned by the `rabbitmq` user, and one Erlang cookie of
their own (never the machine's node's), joined with `rabbitmqctl join_cluster`. Nodes listen on 127.0.0.1 and
on any extra address given (the root ends of the bed's network-namespace links). A node can be killed
(`kill -9` of its Erlang VM) and started again; `remove()` stops and deletes everything."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

from harness.local import as_user, chown, owned_dir, port_open, restartable_port, run, wait_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class RabbitNode:
    def __init__(self, name: str, root: Path, cookie: str, addresses: list[str]):
        self.name, self.root, self.cookie = name, root, cookie
        self.port, self.dist_port = restartable_port(), restartable_port()
        self.pid: int | None = None
        listeners = "".join(f"listeners.tcp.{i} = {a}:{self.port}\n" for i, a in enumerate(addresses, 1))
        (root / "rabbitmq.conf").write_text(listeners + "loopback_users = none\n")
        (root / ".erlang.cookie").write_text(cookie)
        (root / ".erlang.cookie").chmod(0o400)
        for name_ in ("env.conf", "plugins"):
            (root / name_).write_text("")
        for path in root.iterdir():
            chown(path, "rabbitmq")

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.root),  # where the Erlang VM finds its cookie
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),  # .conf is appended
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        command = ["rabbitmqctl", "--erlang-cookie", self.cookie, "-n", self.name, *args]
        if not check:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout).stdout
        return run(command, timeout).stdout

    def start(self, wait: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")} | self.env()
        run(as_user("rabbitmq", ["env", f"HOME={self.root}", SERVER, "-detached"]), env=env, cwd=self.root)
        if wait:
            self.wait()

    def wait(self, timeout: float = 180) -> None:
        try:
            wait_port("127.0.0.1", self.port, True, timeout)
        except TimeoutError:
            logs = "".join(p.read_text(errors="replace")[-2000:] for p in (self.root / "log").glob("*.log"))
            raise RuntimeError(f"RabbitMQ node {self.name} did not start:\n{logs}") from None
        self.pid = int(self.ctl("eval", "list_to_integer(os:getpid()).").strip())

    @property
    def up(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def kill(self) -> None:
        """`kill -9` of the node's Erlang VM: no goodbye to its clients or its peers."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        wait_port("127.0.0.1", self.port, False, 30)

    def stop(self) -> None:
        if self.up:
            self.ctl("stop", check=False)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class RabbitCluster:
    def __init__(self, size: int = 3, addresses: tuple[str, ...] = (), tag: str = ""):
        self.cookie = secrets.token_hex(16).upper()
        self.tag = tag or str(os.getpid())
        self.root = owned_dir("rabbitmq", f"inference-bed-rabbitmq-{self.tag}-")
        self.nodes = []
        for n in range(1, size + 1):
            (self.root / str(n)).mkdir()
            chown(self.root / str(n), "rabbitmq")
            name = f"bed{self.tag}_{n}@localhost"
            self.nodes.append(RabbitNode(name, self.root / str(n), self.cookie, ["127.0.0.1", *addresses]))

    def start(self) -> None:
        """Start every node, then join the others to the first."""
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        for node in self.nodes:
            wait_port("127.0.0.1", node.port, True, 60)

    def running_nodes(self) -> list[str]:
        node = next(n for n in self.nodes if n.up)
        text = node.ctl("eval", "rabbit_nodes:all_running().")
        return [n.name for n in self.nodes if n.name in text]

    def vhost(self, name: str) -> None:
        node = next(n for n in self.nodes if n.up)
        node.ctl("add_vhost", name, check=False)  # exists already: fine
        node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")

    def queues(self, vhost: str) -> list[tuple[str, int]]:
        """The queues of `vhost` with their messages (ready and unacknowledged)."""
        node = next(n for n in self.nodes if n.up)
        lines = node.ctl("list_queues", "-p", vhost, "name", "messages", "--no-table-headers", "-q").splitlines()
        return [(f[0], int(f[1])) for f in (line.split() for line in lines) if len(f) == 2 and f[1].isdigit()]

    def queue_leader(self, vhost: str, queue: str) -> RabbitNode:
        """The node holding a queue (its leader, for a quorum queue; its home node for a classic one)."""
        node = next(n for n in self.nodes if n.up)
        for line in node.ctl("list_queues", "-p", vhost, "name", "pid", "--no-table-headers", "-q").splitlines():
            fields = line.split()
            if fields and fields[0] == queue:
                for candidate in self.nodes:
                    if candidate.name.split("@")[0] in line:
                        return candidate
        raise LookupError(f"queue {queue} not found in vhost {vhost}")

    def url(self, vhost: str, host: str = "127.0.0.1") -> str:
        """Every node's AMQP URL, `;`-separated (Dramatiq's convention), as a client at `host`'s side sees them."""
        path = quote(vhost, safe="")
        return ";".join(f"amqp://guest:guest@{host}:{n.port}/{path}" for n in self.nodes)

    def remove(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
