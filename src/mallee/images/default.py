"""The default image, built from Debian packages: kernel (eki), initramfs (eri), root disk (emi).

- eki `vmlinux`: the Debian cloud kernel (the package linux-image-cloud-amd64 depends on),
  decompressed from its bzImage to the ELF vmlinux, which QEMU boots through its PVH entry
  (under TCG it serves HTTP about 0.8 s sooner than the bzImage).
- eri `initrd.cpio`: an uncompressed busybox initramfs with the virtio, evdev and button
  modules. Its /init boots the disk named by root= (switch_root), or with no root= runs the
  same boot from RAM.
- emi `root.qcow2`: compressed qcow2 of a 64 MiB MBR disk, ext4 (label euca-root) on
  partition 1: busybox init, dropbear, the boot script (DHCP, metadata, SSH key, user-data,
  httpd on port 80, acpid for the power button).

The fastest boot under TCG (recipes/boot-speed.md); HTTP 200 about 2.6-3 s after QEMU starts:

  qemu-system-x86_64 -machine pc -accel tcg,tb-size=24 -bios /usr/share/qemu/qboot.rom \
    -m 128 -smp 1 -nodefaults -no-user-config -display none -no-reboot \
    -kernel vmlinux -initrd initrd.cpio \
    -append "console=ttyS0 quiet panic=1 cryptomgr.notests i8042.noaux i8042.nokbd \
             i8042.nopnp i8042.dumbkbd 8250.nr_uarts=1 root=/dev/vda1" \
    -blockdev driver=qcow2,node-name=root,file.driver=file,file.filename=overlay.qcow2 \
    -device virtio-blk-pci,drive=root \
    -netdev tap,id=net0,ifname=TAP,script=no,downscript=no \
    -device virtio-net-pci,netdev=net0,mac=MAC,romfile= \
    -device virtio-rng-pci \
    -chardev file,id=ser0,path=console.log -serial chardev:ser0 \
    -qmp unix:qmp.sock,server=on,wait=off

with the overlay made by `qemu-img create -f qcow2 -b root.qcow2 -F qcow2 overlay.qcow2`.
virtio-rng-pci is optional, but without it the guest's entropy pool is ready only ~3.6 s into
the boot, and the first-boot SSH host key (so EUCA-SSH and EUCA-READY) waits for it; HTTP does
not. Without root= and the disk, the kernel and initramfs alone boot the instance from RAM.

Builds are cached: a stamp of the inputs (kernel package and version, busybox and dropbear
versions, a hash of the guest scripts and of this builder) makes a second call a no-op, and
outputs are replaced atomically under a lock, so concurrent builders do not see half an image.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mallee.commands import run
from mallee.images import guest, kernel, rootfs

KERNEL_CMDLINE = (
    "console=ttyS0 quiet panic=1 cryptomgr.notests i8042.noaux i8042.nokbd i8042.nopnp "
    "i8042.dumbkbd 8250.nr_uarts=1"
)
ROOT_DEVICE = "/dev/vda1"
PACKAGES = ("busybox-static", "dropbear-bin")
_NAMES = ("vmlinux", "initrd.cpio", "root.qcow2")
_STAMP = "stamp.json"


@dataclass(frozen=True)
class DefaultImage:
    kernel: Path
    ramdisk: Path
    root: Path


def _paths(image_dir: Path) -> DefaultImage:
    return DefaultImage(*(image_dir / name for name in _NAMES))


def default_image_paths(image_dir: Path) -> DefaultImage | None:
    """The built image in image_dir, or None when no complete build is there."""
    image = _paths(image_dir)
    ready = all(p.is_file() for p in (image.kernel, image.ramdisk, image.root))
    return image if ready and (image_dir / _STAMP).is_file() else None


def build_default_image(image_dir: Path, *, force: bool = False) -> DefaultImage:
    """Build the image into image_dir unless a build from the same inputs is already there."""
    image_dir.mkdir(parents=True, exist_ok=True)
    with _locked(image_dir):
        package = _kernel_package(image_dir / "debs")
        stamp = stamp_for(package, _package_versions())
        if not force and _current(image_dir) == stamp and default_image_paths(image_dir):
            return _paths(image_dir)
        _build(image_dir, package)
        _write_atomic(image_dir / _STAMP, json.dumps(stamp, indent=1, sort_keys=True).encode())
        _drop_old_debs(image_dir / "debs", package)
    return _paths(image_dir)


def stamp_for(package: kernel.KernelPackage, versions: dict[str, str]) -> dict[str, str]:
    """Everything the image is made from; a change in any of it means a rebuild."""
    here = Path(__file__).parent
    builder = hashlib.sha256()
    for name in ("default.py", "rootfs.py", "kernel.py", "cpio.py"):
        builder.update((here / name).read_bytes())
    return {
        "kernel": f"{package.name}={package.version}",
        **{name: versions[name] for name in PACKAGES},
        "guest": guest.digest(),
        "builder": builder.hexdigest(),
    }


def _current(image_dir: Path) -> dict[str, str] | None:
    try:
        found: dict[str, str] = json.loads((image_dir / _STAMP).read_text())
    except (OSError, ValueError):
        return None
    return found


@contextmanager
def _locked(image_dir: Path) -> Iterator[None]:
    with (image_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _kernel_package(debs: Path) -> kernel.KernelPackage:
    """apt's current cloud kernel; offline (no apt lists), the newest one already fetched."""
    try:
        return kernel.candidate(debs.parent / ".kernel-package.json")
    except RuntimeError:
        cached = sorted(debs.glob("linux-image-*_amd64.deb")) if debs.is_dir() else []
        if not cached:
            raise
        name, version, _ = cached[-1].name.split("_")
        return kernel.KernelPackage(name, version.replace("%3a", ":"))


def _package_versions() -> dict[str, str]:
    out = run(
        ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", *PACKAGES],
        check=False,
    ).stdout
    versions = {}
    for line in out.splitlines():
        name, version, status = [*line.split(" ", 2), "", ""][:3]
        if status.startswith("ii"):
            versions[name] = version
    missing = [p for p in PACKAGES if p not in versions]
    if missing:
        raise RuntimeError(f"install {' '.join(missing)} (scripts/setup.sh) to build the image")
    return versions


def _build(image_dir: Path, package: kernel.KernelPackage) -> None:
    for stale in image_dir.glob(".build-*"):  # left by a builder that was killed (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=image_dir, prefix=".build-") as tmp:
        work = Path(tmp)
        deb = kernel.fetch(package, image_dir / "debs")
        unpacked = kernel.unpack(deb, work / "kernel")
        kver = kernel.version(unpacked)
        vmlinux = kernel.extract_vmlinux(kernel.bzimage(unpacked).read_bytes(), work)
        (work / "vmlinux").write_bytes(vmlinux)
        tree = work / "rootfs"
        rootfs.build_tree(tree, kver, kernel.modules(unpacked, guest.MODULES))
        rootfs.write_initramfs(tree, kver, work / "initrd.cpio")
        rootfs.write_disk(tree, work / "root.raw", work / "root.qcow2")
        (image_dir / _STAMP).unlink(missing_ok=True)  # no stamp while the set is mixed
        for name in _NAMES:
            os.replace(work / name, image_dir / name)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _drop_old_debs(debs: Path, package: kernel.KernelPackage) -> None:
    keep = kernel.fetch_name(package)
    for deb in debs.glob("linux-image-*.deb"):
        if deb.name != keep:
            deb.unlink()
