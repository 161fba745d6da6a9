"""Small things every server of the test bed needs: ports that stay free while a server is down, a working
directory its own OS user owns, a command run as that user, and waiting for a port to open or close."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

_taken: set[int] = set()


def restartable_port() -> int:
    """A free port below the kernel's ephemeral range: a server stopped and started again can listen on it
    again (a port from the ephemeral range can be taken meanwhile by any outgoing connection)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in random.sample(range(10000, max(low, 10001)), 300):
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError(f"no free port between 10000 and {low}")


def owned_dir(owner: str, prefix: str) -> Path:
    """A fresh directory owned by `owner` (pytest's tmp_path is closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    chown(path, owner)
    return path


def chown(path: Path, owner: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def as_user(owner: str, args: list[str]) -> list[str]:
    """`args` run as `owner` when we are root (PostgreSQL and RabbitMQ refuse to run as root)."""
    return ["runuser", "-u", owner, "--", *args] if os.geteuid() == 0 else args


def run(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, up: bool = True, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while port_open(host, port, 0.5) != up:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not {'open' if up else 'close'} within {timeout:.0f} s")
        time.sleep(0.2)


def missing_tools(*names: str) -> list[str]:
    return [name for name in names if shutil.which(name) is None]
