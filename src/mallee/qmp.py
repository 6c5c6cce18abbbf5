"""A small synchronous QMP client (QEMU's monitor protocol): the capabilities handshake,
commands, and events. The node talks to its VMs with it, the storage agent to its
qemu-storage-daemon.

One command at a time; events that arrive while waiting for a reply are queued for
`wait_event`. Connections are short-lived (an agent opens one per action), so an agent restart
never leaves a QEMU process holding a stale monitor.
"""

from __future__ import annotations

import json
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any


class QmpError(RuntimeError):
    pass


class Qmp:
    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.events: deque[dict[str, Any]] = deque()
        self._buf = b""
        try:
            self.sock.connect(str(path))
            self._read()  # greeting
            self.execute("qmp_capabilities")
        except (OSError, QmpError) as err:
            self.sock.close()
            raise QmpError(f"QMP {path}: {err}") from err

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError as err:
                raise QmpError("no reply from QEMU in time") from err
            if not chunk:
                raise QmpError("QMP connection closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError as err:
            raise QmpError(f"not QMP: {line[:200]!r}") from err
        return message

    def execute(self, command: str, timeout: float | None = None, **arguments: Any) -> Any:
        """Run one command; its `return` value, or QmpError with QEMU's description."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError as err:
            raise QmpError(f"{command}: {err}") from err
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "return" in reply:
                return reply["return"]
            elif "error" in reply:
                raise QmpError(f"{command}: {reply['error'].get('desc')}")

    def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        """The next event called `name` (queued or arriving within `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("event") == name:
                    self.events.remove(event)
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise QmpError(f"no {name} event within {timeout:g}s")
            self.sock.settimeout(left)
            self.events.append(self._read())

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
