"""Listening sockets inside a network namespace, for a process that stays in its own.

The metadata server must reach the database (possibly over TCP from the host's namespace) and
be reached from the instances (inside the node's namespace). setns(2) switches only the calling
thread, so a short-lived thread enters the namespace, binds, and hands the socket back.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000


def listen_in(netns: str, host: str, port: int) -> socket.socket:
    if not netns:
        return socket.create_server((host, port), reuse_port=False)
    result: list[socket.socket | BaseException] = []

    def enter_and_bind() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns}) failed")
            finally:
                os.close(fd)
            result.append(socket.create_server((host, port)))
        except BaseException as err:  # handed to the caller's thread
            result.append(err)

    worker = threading.Thread(target=enter_and_bind, name=f"bind-in-{netns}")
    worker.start()
    worker.join()
    found = result[0]
    if isinstance(found, BaseException):
        raise found
    return found
