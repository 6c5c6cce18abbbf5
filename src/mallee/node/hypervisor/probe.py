"""Does KVM boot an ordinary kernel here? A short probe boot, remembered per node."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = "EUCA-INITRD"


def probe_kvm(kernel: Path, ramdisk: Path, workdir: Path, timeout: float = 8.0) -> bool:
    """Boot the default kernel+initramfs with KVM; true when its first init line appears."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    console = workdir / "kvm-probe.log"
    console.unlink(missing_ok=True)
    argv = [
        "qemu-system-x86_64", "-machine", "pc", "-accel", "kvm", "-m", "128",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(kernel), "-initrd", str(ramdisk),
        "-append", "console=ttyS0 quiet panic=-1",
        "-chardev", f"file,id=s,path={console}", "-serial", "chardev:s",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    booted = False
    while time.monotonic() < deadline and proc.poll() is None:
        if console.exists() and MARKER in console.read_text(errors="replace"):
            booted = True
            break
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    return booted


def choose_accel(setting: str, kernel: Path, ramdisk: Path, workdir: Path) -> str:
    """kvm or tcg for `auto` (probed once, then read from workdir/accel), else as set."""
    if setting in ("kvm", "tcg"):
        return setting
    remembered = workdir / "accel"
    if remembered.exists():
        return remembered.read_text().strip()
    workdir.mkdir(parents=True, exist_ok=True)
    accel = "kvm" if probe_kvm(kernel, ramdisk, workdir) else "tcg"
    log.info("KVM probe: using %s", accel)
    remembered.write_text(accel)
    return accel
