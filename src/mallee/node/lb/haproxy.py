"""One worker's HAProxy: started in its namespace, reloaded seamlessly, found again, stopped.

HAProxy runs in master-worker mode (`-W -D`): the master's pid is in the pid file and stays
the same across reloads; SIGUSR2 makes it read the configuration again and start a new worker,
which takes the listening sockets over from the old one (no refused connection), while the old
worker finishes the connections it holds. The master's command line names the configuration
file, which is how a restarted agent knows the process for its own (procs.alive).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from mallee.commands import in_netns, run
from mallee.node.network import procs

PROGRAM = "haproxy"
START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
SOCKET_TIMEOUT = 2.0


class HaproxyError(RuntimeError):
    pass


class Haproxy:
    def __init__(self, netns: str, run_dir: Path, socket_dir: Path) -> None:
        self.netns = netns
        self.run_dir = run_dir
        self.config = run_dir / "haproxy.cfg"
        self.pidfile = run_dir / "haproxy.pid"
        self.server_state = run_dir / "server-state"
        # Unix socket paths are short (108 bytes): these live apart from the data directory.
        self.stats_socket = socket_dir / f"{netns}.stats"
        self.master_socket = socket_dir / f"{netns}.master"

    def pid(self) -> int | None:
        """The master's pid, when it runs our configuration."""
        return procs.alive(self.pidfile, str(self.config))

    def current(self) -> str | None:
        try:
            return self.config.read_text()
        except OSError:
            return None

    def write(self, text: str) -> None:
        """Check `text` with HAProxy, then make it the configuration (atomically)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.config.with_suffix(".new")
        candidate.write_text(text)
        done = run([PROGRAM, "-c", "-q", "-f", str(candidate)], check=False)
        if done.returncode != 0:
            candidate.unlink(missing_ok=True)
            raise HaproxyError(f"configuration refused: {done.stderr.strip()[-2000:]}")
        os.replace(candidate, self.config)

    def start(self) -> int:
        self.stats_socket.parent.mkdir(parents=True, exist_ok=True)
        for stale in (self.stats_socket, self.master_socket):
            stale.unlink(missing_ok=True)
        argv = [PROGRAM, "-W", "-D", "-f", str(self.config), "-p", str(self.pidfile),
                "-S", f"{self.master_socket},mode,600"]  # fmt: skip
        run(in_netns(self.netns, argv))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is not None and self.worker_pid() is not None:
                return pid
            time.sleep(0.05)
        raise HaproxyError(f"HAProxy in {self.netns} did not answer on its socket")

    def reload(self) -> None:
        """Seamless: the new worker takes the listeners over; the health each server had
        carries over through the server-state file."""
        master = self.pid()
        if master is None:
            raise HaproxyError(f"no HAProxy runs in {self.netns}")
        before = self.worker_pid()
        with contextlib.suppress(HaproxyError, OSError):
            self.server_state.write_text(self.command("show servers state"))
        os.kill(master, signal.SIGUSR2)
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            now = self.worker_pid()
            if now is not None and now != before:
                return
            time.sleep(0.05)
        raise HaproxyError(f"HAProxy in {self.netns} did not reload")

    def worker_pid(self) -> int | None:
        """The pid of the worker answering on the stats socket (None: nobody answers)."""
        try:
            info = self.command("show info")
        except (HaproxyError, OSError):
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(SOCKET_TIMEOUT)
            try:
                sock.connect(str(self.stats_socket))
            except (FileNotFoundError, ConnectionRefusedError) as err:
                raise HaproxyError(f"{self.stats_socket}: {err}") from err
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def stop(self, *, only_ours: bool = False) -> None:
        """The master (its workers, old ones too, go with it) and any other HAProxy left in
        the namespace; `only_ours`: the master of our pid file alone, the namespace being
        another agent's now."""
        pids = [p for p in [self.pid()] if p is not None]
        if not only_ours:
            pids += [p for p in procs.strays(PROGRAM, self.netns) if p not in pids]
        if pids:
            procs.stop(pids)
        if not only_ours:
            for path in (self.stats_socket, self.master_socket):
                path.unlink(missing_ok=True)
