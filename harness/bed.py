"""The replicated test bed: a three-node RabbitMQ cluster and a PostgreSQL primary with a streaming standby on
loopback (`harness.rabbit_cluster`, `harness.pg_pair`), and test hosts for the web and the workers as network
namespaces (`harness.netns`) whose links a filter can cut, make lossy or slow. The servers listen on loopback
and on the root end of every link, so a process in a namespace reaches them over its own link only.

    python -m harness.bed up [--no-namespaces]   # start it; prints the URLs; state in var/bed/state.json
    python -m harness.bed status                 # which servers and namespaces are up
    python -m harness.bed down                   # stop and remove everything (also a killed run's leftovers)

Tests use `Bed` as a context manager: everything it started is stopped and removed on the way out."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from harness import netns
from harness.local import missing_tools, port_open
from harness.pg_pair import PgPair, pg_bin
from harness.rabbit_cluster import RabbitCluster

STATE = Path(__file__).resolve().parent.parent / "var" / "bed" / "state.json"
ROLES = ("web", "workers")


def available(namespaces: bool = True) -> str | None:
    """None when the bed can run here, else what is missing."""
    if pg_bin() is None:
        return "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin"
    if missing_tools("rabbitmqctl", "runuser") or not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        return "RabbitMQ server or runuser not found"
    return netns.available() if namespaces else None


class Bed:
    def __init__(self, *, namespaces: bool = True, nodes: int = 3, synchronous: bool = True):
        self.tag = str(os.getpid() % 10000)
        self.links = {role: netns.Link(role, i, self.tag) for i, role in enumerate(ROLES, 1)} if namespaces else {}
        addresses = tuple(link.root_ip for link in self.links.values())
        self.rabbit = RabbitCluster(nodes, addresses, self.tag)
        self.pg = PgPair(addresses, synchronous, self.tag)

    def up(self) -> Bed:
        for link in self.links.values():
            link.create()
        self.pg.start()
        self.rabbit.start()
        return self

    def down(self) -> None:
        for step in (self.rabbit.remove, self.pg.remove, *(link.remove for link in self.links.values())):
            with contextlib.suppress(Exception):
                step()

    def __enter__(self) -> Bed:
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc) -> None:
        self.down()

    def address(self, role: str) -> str:
        """Where `role`'s host is reached from the root namespace (its own address, or loopback)."""
        return self.links[role].ns_ip if role in self.links else "127.0.0.1"

    def server_address(self, role: str) -> str:
        """Where `role`'s host reaches the servers: the root end of its link, or loopback."""
        return self.links[role].root_ip if role in self.links else "127.0.0.1"

    def prefix(self, role: str) -> list[str]:
        return self.links[role].prefix() if role in self.links else []

    def broker_url(self, vhost: str, role: str = "") -> str:
        self.rabbit.vhost(vhost)
        return self.rabbit.url(vhost, self.server_address(role))

    def database_url(self, database: str, role: str = "", multi_host: bool = False) -> str:
        self.pg.create_database(database)
        host = self.server_address(role)
        return self.pg.multi_host_url(database, host) if multi_host else self.pg.url(database, host)

    def lift_all(self) -> None:
        for link in self.links.values():
            link.lift()

    def status(self) -> dict:
        pg = {"primary": self.pg.primary.port, "standby": self.pg.standby.port if self.pg.standby else None}
        return {
            "tag": self.tag,
            "rabbitmq": {n.name: {"port": n.port, "up": n.up, "pid": n.pid} for n in self.rabbit.nodes},
            "rabbitmq_cookie": self.rabbit.cookie,
            "rabbitmq_root": str(self.rabbit.root),
            "postgres": pg,
            "postgres_root": str(self.pg.root),
            "postgres_data": [str(s.data) for s in (self.pg.primary, self.pg.standby) if s],
            "namespaces": {r: {"ns": k.ns, "address": k.ns_ip, "servers_at": k.root_ip} for r, k in self.links.items()},
            "links": [k.root_if for k in self.links.values()],
            "broker_url": self.rabbit.url("/"),
            "database_url": self.pg.multi_host_url("postgres"),
        }


def _down(state: dict) -> None:
    """Stop and remove what a state file names, and any bed namespace left behind."""
    for node in state.get("rabbitmq", {}).values():
        if node.get("pid"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(node["pid"], signal.SIGKILL)
    for data in state.get("postgres_data", []):
        pg_ctl = [str(pg_bin() / "pg_ctl"), "-D", data, "-m", "immediate", "stop"]
        subprocess.run(["runuser", "-u", "postgres", "--", *pg_ctl], capture_output=True)
    for root in (state.get("rabbitmq_root"), state.get("postgres_root")):
        if root:
            shutil.rmtree(root, ignore_errors=True)
    for link in state.get("links", []):
        subprocess.run(["ip", "link", "del", link], capture_output=True)
    for ns in netns.leftovers():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bed", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--no-namespaces", action="store_true", help="servers on loopback only, no test hosts")
    args = parser.parse_args(argv)
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    if args.action == "down":
        _down(state)
        STATE.unlink(missing_ok=True)
        return 0
    if args.action == "status":
        if not state:
            print("no bed is up (python -m harness.bed up)")
            return 1
        state["rabbitmq"] = {n: v | {"up": port_open("127.0.0.1", v["port"])} for n, v in state["rabbitmq"].items()}
        print(json.dumps(state, indent=2))
        return 0
    if state:
        print(f"a bed is up already ({STATE}): python -m harness.bed down first", file=sys.stderr)
        return 1
    why = available(not args.no_namespaces)
    if why:
        print(f"the bed cannot run here: {why}", file=sys.stderr)
        return 1
    bed = Bed(namespaces=not args.no_namespaces)
    try:
        bed.up()
    except BaseException:
        bed.down()
        raise
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(bed.status(), indent=2))
    print(json.dumps(bed.status(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
