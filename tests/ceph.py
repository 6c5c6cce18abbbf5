"""A one-node Ceph cluster for tests (scripts/ceph.sh): everything under one directory, on
127.0.0.1 of the network namespace it is started in, stopped by its own pid files."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ceph.sh"


@dataclass(frozen=True)
class Ceph:
    directory: Path
    netns: str = ""

    @property
    def conf(self) -> Path:
        return self.directory / "ceph.conf"

    def rbd(self, *args: str) -> str:
        """An rbd command against the cluster (from the namespace it listens in)."""
        argv = ["rbd", "--conf", str(self.conf), *args]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return subprocess.run(
            argv,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout


def start_ceph(directory: Path, netns: str = "") -> Ceph:
    """Make (or start again) the cluster in `directory`, in the namespace `netns` ("": this
    one); returns once it is healthy with its pool `rbd`."""
    argv = [str(SCRIPT), "start", str(directory)]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    subprocess.run(argv, check=True, timeout=180)
    return Ceph(directory, netns)


def stop_ceph(ceph: Ceph) -> None:
    subprocess.run([str(SCRIPT), "stop", str(ceph.directory)], check=True, timeout=60)
