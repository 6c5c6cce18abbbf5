"""The data plane's long-running helpers (dnsmasq, the metadata server), found and stopped.

Each is known by a pid file plus a marker on its command line, so a pid reused by an unrelated
process is never taken for ours, and an agent restarted after a crash adopts what still runs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [w.decode(errors="replace") for w in raw.split(b"\0") if w]


def alive(pidfile: Path, marker: str) -> int | None:
    """The pid in `pidfile` when that process runs and its command line contains `marker`."""
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    words = cmdline(pid)
    # A zombie has an empty command line: it is as good as gone.
    return pid if words and marker in " ".join(words) else None


def running(pidfile: Path, argv: list[str]) -> int | None:
    """The pid in `pidfile` when that process runs exactly `argv` (so: our configuration)."""
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if cmdline(pid) == argv else None


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def netns_inode(netns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return None


def netns_of(pid: int) -> int | None:
    """The inode of the network namespace `pid` runs in."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def strays(program: str, netns: str) -> list[int]:
    """Processes of `program` serving `netns`, whether or not a pid file of ours names them.

    They are left when a node's state directory is lost while its namespace lives on (a wiped
    data dir, a crashed test); they hold the DHCP and metadata ports a new server needs.
    """
    wanted = netns_inode(netns) if netns else None
    if wanted is None:
        return []
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        words = cmdline(int(proc.name))
        if not words or program not in " ".join(words[:3]):
            continue
        inside = netns_of(int(proc.name)) == wanted
        # dnsmasq runs inside the namespace; the metadata server names it on its command line.
        if inside or _names_netns(words, netns):
            found.append(int(proc.name))
    return found


def _names_netns(words: list[str], netns: str) -> bool:
    return any(a == "--netns" and b == netns for a, b in itertools.pairwise(words))


def stop(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `timeout`; returns once all are gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        left = [p for p in pids if not gone(p)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = [p for p in left if not gone(p)]
        if not left:
            return
    raise RuntimeError(f"processes {pids} survived SIGKILL")
