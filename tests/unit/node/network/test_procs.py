"""Pid files are trusted only for the process they name, running what we expect."""

from __future__ import annotations

import os
from pathlib import Path

from mallee.node.network import procs


def test_pid_files(tmp_path: Path) -> None:
    me = procs.cmdline(os.getpid())
    assert me
    pidfile = tmp_path / "x.pid"
    assert procs.alive(pidfile, "anything") is None
    pidfile.write_text(f"{os.getpid()}\n12345\n")
    assert procs.alive(pidfile, me[0]) == os.getpid()
    assert procs.alive(pidfile, "not-in-my-command-line") is None
    assert procs.running(pidfile, me) == os.getpid()
    assert procs.running(pidfile, [*me, "--other"]) is None
    pidfile.write_text("junk")
    assert procs.alive(pidfile, me[0]) is None and procs.running(pidfile, me) is None


def test_gone() -> None:
    assert not procs.gone(os.getpid())
    assert procs.gone(2**22 + 1)  # above the largest pid


def test_strays_of_a_missing_namespace() -> None:
    assert procs.strays("dnsmasq", "mallee-no-such-namespace") == []
    assert procs.strays("dnsmasq", "") == []
