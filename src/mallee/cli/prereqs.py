"""What `mallee up` needs from the machine, checked before anything starts.

Each problem is one sentence that says what to do; `mallee up` prints them and exits non-zero
instead of failing later with a traceback.
"""

from __future__ import annotations

import os
import shutil
import socket

# command -> the Debian package that provides it (scripts/setup.sh installs them all).
COMMANDS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "dnsmasq": "dnsmasq-base",
    "iptables": "iptables",
    "ebtables": "ebtables",
    "busybox": "busybox-static",
}


def problems(host: str, port: int, *, with_node: bool = True) -> list[str]:
    found = []
    if with_node and os.geteuid() != 0:
        found.append(
            "mallee up runs VMs in network namespaces and needs root: "
            "run it as root or with sudo (scripts/up.sh does both)."
        )
    missing = sorted({pkg for cmd, pkg in COMMANDS.items() if shutil.which(cmd) is None})
    if with_node and missing:
        found.append(
            f"missing {', '.join(missing)}: run scripts/setup.sh, or apt-get install "
            f"{' '.join(missing)}."
        )
    if not port_free(host, port):
        found.append(f"port {port} on {host} is in use: stop what uses it, or start with --port N.")
    return found


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
