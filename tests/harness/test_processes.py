"""Reading processes from /proc: a command name holding spaces and parentheses is read whole, from a real
process that set its own name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness import processes
from tests.processes import named

NAME = "a) (b c) d"  # what a split on spaces or at the first ")" would cut


def test_every_process_reads_a_name_with_spaces_and_parentheses_whole():
    with named(NAME) as pid:
        found = {pid: (name, fields) for pid, name, fields in processes.every_process()}
        assert processes.read_stat(pid)[0] == NAME
        assert pid in processes.children(os.getpid())
    name, fields = found[pid]
    assert name == NAME
    assert fields[0] in "RS" and int(fields[1]) == os.getpid()  # state, then the parent: the fields line up
    assert processes.cpu_of(fields) >= 0


def test_a_process_gone_is_an_os_error_and_not_listed():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    with pytest.raises(OSError):
        processes.read_stat(child.pid)
    assert child.pid not in {pid for pid, _, _ in processes.every_process()}
