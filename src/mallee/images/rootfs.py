"""The guest's root tree (busybox, dropbear, the boot scripts) and the two forms made from it:
the initramfs (eri) and the partitioned ext4 disk (emi), both without root, loop devices or mounts.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from mallee.commands import run
from mallee.images import cpio, guest

BUSYBOX = Path("/bin/busybox")
DROPBEAR = (Path("/usr/sbin/dropbear"), Path("/usr/bin/dropbearkey"))
DISK_MIB = 64
PART_OFFSET = 1 << 20
LABEL = "euca-root"
_DIRS = (
    "dev", "proc", "sys", "run", "tmp", "newroot", "root", "mnt", "var/log", "var/lib/euca",
    "www", "etc/dropbear", "etc/euca", "etc/acpi/PWRF", "lib/modules",
)  # fmt: skip


def module_dir(kernel_version: str) -> str:
    return f"lib/modules/{kernel_version}"


def build_tree(root: Path, kernel_version: str, modules: dict[str, bytes]) -> None:
    """The root filesystem both image forms share."""
    for d in _DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    _busybox(root)
    for binary in DROPBEAR:
        _copy_with_libraries(binary, root)
    for rel, (text, mode) in guest.FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    mods = root / module_dir(kernel_version)
    mods.mkdir(parents=True, exist_ok=True)
    for name, data in modules.items():
        (mods / f"{name}.ko").write_bytes(data)


def _busybox(root: Path) -> None:
    """busybox (static) and a symlink per applet, where the applet lists say they live."""
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in run([str(BUSYBOX), "--list-full"]).stdout.split():
        link = root / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(root / "bin/busybox", link.parent))


def _copy_with_libraries(binary: Path, root: Path) -> None:
    """A dynamically linked program and the shared libraries ldd says it loads."""
    for path in [binary, *_libraries(binary)]:
        target = root / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path.resolve(), target)
        target.chmod(0o755)


def _libraries(binary: Path) -> list[Path]:
    found = []
    for line in run(["ldd", str(binary)]).stdout.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1:
            found.append(Path(parts[parts.index("=>") + 1]))
        elif parts and parts[0].startswith("/"):
            found.append(Path(parts[0]))  # the dynamic loader
    return [p for p in found if p.is_file()]


def write_initramfs(root: Path, kernel_version: str, out: Path) -> None:
    """The eri: the whole tree (so it also runs diskless) plus stage 1 as /init."""
    paths = " ".join(f"/{module_dir(kernel_version)}/{m}.ko" for m in guest.MODULES)
    with out.open("wb") as f:
        archive = cpio.Archive(f)
        archive.tree(root)
        # The kernel opens /dev/console for /init before anything can mount devtmpfs.
        archive.device("dev/console", major=5, minor=1)
        archive.device("dev/null", major=1, minor=3, mode=0o666)
        archive.file("init", guest.STAGE1.format(modules=paths).encode(), 0o755)
        archive.close()


def write_disk(root: Path, raw: Path, qcow2: Path) -> None:
    """The emi: an MBR disk whose partition 1 is ext4 made from the tree, as compressed qcow2."""
    size = DISK_MIB << 20
    with raw.open("wb") as f:
        f.truncate(size)
        f.seek(0)
        f.write(mbr(size))
    part_kib = (size - PART_OFFSET) // 1024
    run(["mkfs.ext4", "-q", "-F", "-L", LABEL, "-E", f"offset={PART_OFFSET}",
         "-d", str(root), str(raw), f"{part_kib}k"])  # fmt: skip
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", str(raw), str(qcow2)])
    raw.unlink()


def mbr(disk_bytes: int) -> bytes:
    """A 512-byte MBR with one bootable Linux partition from 1 MiB to the end of the disk."""
    start = PART_OFFSET // 512
    count = disk_bytes // 512 - start
    # CHS fields hold the "use LBA" placeholder, as fdisk writes for large disks.
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", start, count)
    signature = struct.pack("<I", 0x45554341)  # "EUCA"
    return bytes(440) + signature + bytes(2) + entry + bytes(48) + b"\x55\xaa"
