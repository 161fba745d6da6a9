"""A PostgreSQL primary and a streaming standby of our own on loopback (own data directories and ports, never
5432), run as the `postgres` user. The standby is a `pg_basebackup -R` of the primary; the primary waits for
it on commit (`synchronous_standby_names`), so a commit the primary acknowledged survives a failover. Clients
name both hosts in libpq's multi-host form with `target_session_attrs=read-write`; failover is `kill -9` of
the primary and `pg_ctl promote` of the standby; `rebuild_standby()` makes a new standby of the new primary."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
from pathlib import Path

from harness.local import as_user, owned_dir, port_open, restartable_port, run, wait_port
from harness.processes import children


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PgServer:
    def __init__(self, root: Path, name: str, addresses: list[str]):
        self.root, self.name, self.addresses = root, name, addresses
        self.data, self.log, self.port = root / name, root / f"{name}.log", restartable_port()

    def tool(self, name: str, *args: str, timeout: float = 120) -> str:
        return run(as_user("postgres", [str(pg_bin() / name), *args]), timeout, cwd=self.root).stdout

    def start(self) -> None:
        options = [
            f"-p {self.port}",
            f"-k {self.root}",
            f"-c listen_addresses={','.join(self.addresses)}",
            "-c fsync=off",
            "-c wal_level=replica",
            "-c max_wal_senders=5",
            "-c hot_standby=on",
            "-c wal_keep_size=256MB",
            "-c max_connections=200",
        ]
        start = ["-D", str(self.data), "-o", " ".join(options), "-l", str(self.log), "-w", "-t", "60", "start"]
        self.tool("pg_ctl", *start)
        wait_port("127.0.0.1", self.port, True, 30)

    @property
    def up(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def kill(self) -> None:
        """`kill -9` of the postmaster and every backend: a host gone at once."""
        pid = self.pid()
        if pid is not None:
            for process in [pid, *children(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process, signal.SIGKILL)
        wait_port("127.0.0.1", self.port, False, 30)

    def stop(self) -> None:
        if self.up:
            with contextlib.suppress(RuntimeError):
                self.tool("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


class PgPair:
    def __init__(self, addresses: tuple[str, ...] = (), synchronous: bool = True, tag: str = ""):
        self.root = owned_dir("postgres", f"inference-bed-postgres-{tag or os.getpid()}-")
        self.addresses, self.synchronous = ["127.0.0.1", *addresses], synchronous
        self.primary = PgServer(self.root, "a", self.addresses)
        self.standby: PgServer | None = None
        self._names = iter("bcdefghijklmnopqrstuvwxyz")

    def start(self) -> None:
        hba = "local all all trust\nhost all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n"
        self.primary.tool("initdb", "-D", str(self.primary.data), "-A", "trust", "-U", "postgres", "--no-sync")
        (self.primary.data / "pg_hba.conf").write_text(hba)  # servers listen on loopback and our links only
        self.primary.start()
        self.rebuild_standby()

    def rebuild_standby(self) -> None:
        """A new streaming standby of the current primary (after a failover, of the promoted one)."""
        standby = PgServer(self.root, next(self._names), self.addresses)
        source = f"host=127.0.0.1 port={self.primary.port} user=postgres"
        backup = ["-D", str(standby.data), "-d", source, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"]
        standby.tool("pg_basebackup", *backup)
        standby.start()
        self.standby = standby
        if self.synchronous:  # from now on a commit waits for the standby
            self.sql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()")

    def promote(self) -> None:
        """Promote the standby; it becomes the primary. Returns when it accepts writes."""
        assert self.standby is not None
        self.standby.tool("pg_ctl", "-D", str(self.standby.data), "-w", "promote")
        self.primary, self.standby = self.standby, None
        if self.synchronous:  # no standby to wait for (a backup copies the setting): commit alone until rebuilt
            self.sql("postgres", "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")

    def sql(self, database: str, *statements: str) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(self.url(database), connect_timeout=5)
        try:
            connection.autocommit = True
            rows: list[tuple] = []
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    rows = cursor.fetchall() if cursor.description else []
            return rows
        finally:
            connection.close()

    def create_database(self, name: str) -> None:
        if not self.sql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.sql("postgres", f'CREATE DATABASE "{name}"')

    def url(self, database: str, host: str = "127.0.0.1") -> str:
        """The current primary alone."""
        return f"postgresql://postgres@{host}:{self.primary.port}/{database}"

    def multi_host_url(self, database: str, host: str = "127.0.0.1") -> str:
        """Every server, libpq's multi-host form: clients find the one that takes writes."""
        servers = [s for s in (self.primary, self.standby) if s is not None]
        hosts = ",".join(f"{host}:{s.port}" for s in servers)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def remove(self) -> None:
        for server in (self.primary, self.standby):
            if server is not None:
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
