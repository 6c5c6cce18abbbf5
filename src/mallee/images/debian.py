"""Debian 12 (bookworm) with systemd and cloud-init, from Debian's archive with mmdebstrap.

- `vmlinux`: the image's own cloud kernel (the one its /lib/modules matches), decompressed
  from /boot/vmlinuz to the ELF vmlinux QEMU boots through PVH, as the default image does.
- `initrd.img`: the image's initramfs-tools initramfs, made with only the virtio disk drivers
  (MODULES=list), which mounts root=/dev/vda1 and hands over to systemd.
- `root.qcow2` (compressed, what is registered) and `root.raw` (sparse, for imports): an MBR
  disk whose partition 1 is ext4 (label debian-root) made from the tree with `mkfs.ext4 -d`,
  no loop device and no mount. cloud-init's growpart and resizefs fill a bigger disk.

mmdebstrap writes the tree into a directory (its root mode: the tree's owners and device nodes
are real, which `mkfs.ext4 -d` copies into the file system), so the build runs as root; every
later step is rootless. It takes one to two minutes here (about 200 packages from
deb.debian.org, then mkfs and a compressed qcow2), so it is not part of `mallee up`: `mallee
image build-debian` makes it once, and a second call with the same inputs (suite, package list,
the files of debian_guest, this builder, mmdebstrap's version) is a no-op. `--force` rebuilds,
e.g. to pick up new package versions from the archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mallee.commands import run
from mallee.images import build_cache, debian_guest, kernel, rootfs

DISK_MIB = 2048
_NAMES = ("vmlinux", "initrd.img", "root.qcow2", "root.raw")
BUILD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class DebianImage:
    kernel: Path
    ramdisk: Path
    root: Path
    raw: Path


def _paths(image_dir: Path) -> DebianImage:
    return DebianImage(*(image_dir / name for name in _NAMES))


def debian_image_paths(image_dir: Path) -> DebianImage | None:
    """The built image in image_dir, or None when no complete build is there."""
    image = _paths(image_dir)
    ready = all(p.is_file() for p in (image.kernel, image.ramdisk, image.root, image.raw))
    return image if ready and (image_dir / build_cache.STAMP).is_file() else None


def build_debian_image(image_dir: Path, *, force: bool = False) -> DebianImage:
    """Build the image into image_dir unless a build from the same inputs is already there."""
    image_dir.mkdir(parents=True, exist_ok=True)
    with build_cache.locked(image_dir):
        stamp = stamp_for(_mmdebstrap_version())
        if not force and build_cache.current_stamp(image_dir) == stamp:
            found = debian_image_paths(image_dir)
            if found is not None:
                return found
        if os.geteuid() != 0:
            raise RuntimeError("building the Debian image needs root (mmdebstrap's root mode)")
        build_cache.drop_stale_builds(image_dir)
        with tempfile.TemporaryDirectory(dir=image_dir, prefix=".build-") as tmp:
            _build(Path(tmp))
            build_cache.install(Path(tmp), image_dir, _NAMES)
        build_cache.write_stamp(image_dir, stamp)
    return _paths(image_dir)


def stamp_for(mmdebstrap: str) -> dict[str, str]:
    here = Path(__file__).parent
    builder = hashlib.sha256()
    for name in ("debian.py", "rootfs.py", "kernel.py", "build_cache.py"):
        builder.update((here / name).read_bytes())
    return {
        "suite": debian_guest.SUITE,
        "guest": debian_guest.digest(),
        "builder": builder.hexdigest(),
        "mmdebstrap": mmdebstrap,
    }


def _mmdebstrap_version() -> str:
    out = run(["dpkg-query", "-W", "-f=${Version} ${db:Status-Abbrev}", "mmdebstrap"],
              check=False).stdout  # fmt: skip
    version, _, status = out.partition(" ")
    if not status.startswith("ii"):
        raise RuntimeError("install mmdebstrap (scripts/setup.sh) to build the Debian image")
    return version


def _build(work: Path) -> None:
    tree = work / "tree"
    # mallee runs with umask 077 (its data directory holds secrets); the guest's own files
    # need Debian's modes, or its users could not read /etc or enter /.
    private = os.umask(0o022)
    try:
        _bootstrap(tree, work / "before")
        _customize(tree)
        tree.chmod(0o755)
    finally:
        os.umask(private)
    kver = _kernel_version(tree)
    vmlinuz = (tree / "boot" / f"vmlinuz-{kver}").read_bytes()
    (work / "vmlinux").write_bytes(kernel.extract_vmlinux(vmlinuz, work))
    shutil.copyfile(tree / "boot" / f"initrd.img-{kver}", work / "initrd.img")
    _write_disk(tree, work / "root.raw")
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", "-W",
         str(work / "root.raw"), str(work / "root.qcow2")], timeout=BUILD_TIMEOUT)  # fmt: skip
    shutil.rmtree(tree)


def _bootstrap(tree: Path, before: Path) -> None:
    for name, text in debian_guest.BEFORE_PACKAGES.items():
        (before / name).parent.mkdir(parents=True, exist_ok=True)
        (before / name).write_text(text)
    run(
        [
            "mmdebstrap", "--mode=root", "--variant=apt", "--format=directory",
            "--aptopt=APT::Install-Recommends \"false\"",
            f"--include={','.join(debian_guest.PACKAGES)}",
            f"--essential-hook=sync-in {before} /",
            debian_guest.SUITE, str(tree), *debian_guest.MIRRORS,
        ],
        timeout=BUILD_TIMEOUT,
    )  # fmt: skip


def _customize(tree: Path) -> None:
    for name, text in debian_guest.AFTER_PACKAGES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
        # Some already exist with another mode (mmdebstrap leaves /etc/hostname executable).
        (tree / name).chmod(0o644)
    # Made when openssh-server was installed: every instance would share them. cloud-init
    # makes each instance its own at first boot.
    for key in (tree / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    run(["systemctl", f"--root={tree}", "enable", *debian_guest.SERVICES])
    run(["systemctl", f"--root={tree}", "disable", *debian_guest.DISABLED])


def _kernel_version(tree: Path) -> str:
    found = sorted(p.name.removeprefix("vmlinuz-") for p in (tree / "boot").glob("vmlinuz-*"))
    if not found:
        raise RuntimeError("the Debian tree has no /boot/vmlinuz-*")
    return found[-1]


def _write_disk(tree: Path, raw: Path) -> None:
    size = DISK_MIB << 20
    with raw.open("wb") as f:
        f.truncate(size)
        f.write(rootfs.mbr(size))
    part_kib = (size - rootfs.PART_OFFSET) // 1024
    run(["mkfs.ext4", "-q", "-F", "-L", debian_guest.LABEL, "-E", f"offset={rootfs.PART_OFFSET}",
         "-d", str(tree), str(raw), f"{part_kib}k"], timeout=BUILD_TIMEOUT)  # fmt: skip
