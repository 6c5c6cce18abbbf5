"""Sockets and files of a network namespace, for a process that stays in its own.

The metadata server must reach the database (possibly PostgreSQL over TCP in the host's
namespace) and be reached by the instances (inside the node's namespace). setns(2) switches
only the calling thread, so a short-lived thread enters the namespace, opens what is needed
there, and hands it back: a socket keeps the namespace it was created in, and so does a
/proc/thread-self/net file opened from that thread.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def inside(netns: str, fn: Callable[[], T]) -> T:
    """fn() run in `netns` ("" = this process' own namespace)."""
    if not netns:
        return fn()
    result: list[T] = []
    error: list[BaseException] = []

    def enter_and_call() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns}) failed")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as err:  # handed to the caller's thread
            error.append(err)

    worker = threading.Thread(target=enter_and_call, name=f"in-{netns}")
    worker.start()
    worker.join()
    if error:
        raise error[0]
    return result[0]


def listen_in(netns: str, host: str, port: int) -> socket.socket:
    return inside(netns, lambda: socket.create_server((host, port)))


def open_in(netns: str, path: str) -> int:
    """A read-only fd of `path` (e.g. /proc/thread-self/net/arp) as seen from `netns`."""
    return inside(netns, lambda: os.open(path, os.O_RDONLY))
