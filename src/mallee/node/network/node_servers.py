"""A server process of a node's data plane (the metadata server, the DNS server), started,
found again and stopped the same way.

It runs in a session of its own (`setsid -f`), so it outlives a crashed agent and is adopted by
the next: it is ours when its pid file names a process running exactly our command line, and
the pid file's second line (written by the server once it listens) is the inode of the
namespace it listens in, so a server left listening in a deleted namespace is never adopted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mallee.commands import run
from mallee.node.network import procs

START_TIMEOUT = 20.0


class NodeServer:
    def __init__(
        self, label: str, module: str, argv: list[str], pidfile: Path, log_file: Path, netns: str
    ) -> None:
        self.label = label
        self.module = module
        self.argv = argv
        self.pidfile = pidfile
        self.log_file = log_file
        self.netns = netns

    def pid(self) -> int | None:
        """Ours, as we would start it, listening in the namespace as it is now."""
        pid = procs.running(self.pidfile, self.argv)
        if pid is None:
            return None
        lines = self.pidfile.read_text().splitlines()
        wanted = str(procs.netns_inode(self.netns) or "") if self.netns else ""
        return pid if lines[1:2] == [wanted] else None

    def ensure(self, db_url: str) -> None:
        if self.pid():
            return
        self.stop()
        # The database URL (it may hold a password) goes by environment, not the command line.
        env = {**os.environ, "MALLEE_DB_URL": db_url}
        run(["setsid", "-f", *self.argv], timeout=60, env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.pid():
            if time.monotonic() > deadline:
                tail = ""
                if self.log_file.exists():
                    tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.label} did not start: {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Any of ours, whatever its configuration, and any serving this namespace."""
        pid = procs.alive(self.pidfile, str(self.pidfile))
        strays = procs.strays(self.module, self.netns) if self.netns else []
        procs.stop(sorted({*strays, *([pid] if pid else [])}))
        self.pidfile.unlink(missing_ok=True)
