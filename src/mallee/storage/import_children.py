"""The long-running commands of an import (qemu-img convert, rbd import), and what an agent
killed while one ran left behind.

Each is started with a pid file in its task's work directory, so the agent that starts the task
over (after a restart) kills it first: a leftover convert would otherwise keep writing, and a
leftover `rbd import` write into the image the new attempt makes. A pid is only trusted while
its process still names the work directory on its command line (pids are reused); any other
process naming it (a command run without a pid file) is found the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from mallee.commands import CommandError

log = logging.getLogger(__name__)

PID_FILE = "child.pid"
# How long a killed leftover may take to go (it is reaped by its new parent, init).
GONE_WITHIN = 10.0


def run_tracked(
    argv: Sequence[str], work: Path, timeout: float, started: list[subprocess.Popen[bytes]]
) -> None:
    """Run argv to completion with its pid in `work`'s pid file; CommandError when it fails.
    The process is appended to `started` while it runs, so the agent can kill it (a cancel)."""
    pid_file = work / PID_FILE
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    started.append(proc)
    try:
        pid_file.write_text(f"{proc.pid}\n")
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise CommandError(argv, -signal.SIGKILL, f"took over {timeout:g}s") from None
        if proc.returncode != 0:
            raise CommandError(argv, proc.returncode, err.decode(errors="replace"))
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        started.remove(proc)
        pid_file.unlink(missing_ok=True)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _names(pid: int, work: Path) -> bool:
    prefix = f"{work}/"
    return any(arg == str(work) or arg.startswith(prefix) for arg in _cmdline(pid))


def leftovers(work: Path) -> set[int]:
    """Processes (not this one) whose command line names a path in `work`."""
    found: set[int] = set()
    with contextlib.suppress(OSError, ValueError):
        recorded = int((work / PID_FILE).read_text().strip())
        if _names(recorded, work):
            found.add(recorded)
    for entry in Path("/proc").iterdir():
        if (
            entry.name.isdigit()
            and int(entry.name) != os.getpid()
            and _names(int(entry.name), work)
        ):
            found.add(int(entry.name))
    return found


def kill_leftovers(work: Path) -> None:
    """Kill what an earlier attempt at the task left running in `work`, and wait until gone."""
    found = leftovers(work)
    for pid in found:
        log.warning("%s: killing %d left by an earlier attempt", work.name, pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + GONE_WITHIN
    while found and time.monotonic() < deadline:
        found = {pid for pid in found if _alive(pid)}
        if found:
            time.sleep(0.05)
    if found:
        raise OSError(f"processes {sorted(found)} of an earlier attempt do not end")


def _alive(pid: int) -> bool:
    try:
        # A zombie (killed, not yet reaped) holds no file open and writes nothing.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
