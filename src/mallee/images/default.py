"""The default image, built from Debian packages: kernel (eki), initramfs (eri), root disk (emi).

The node boots it as (TCG; see ../shared/recipes/boot-speed.md):
  qemu-system-x86_64 -machine pc -accel tcg,tb-size=32 -bios /usr/share/qemu/qboot.rom
    -kernel <eki> -initrd <eri> -append "console=ttyS0 quiet panic=1 ... root=/dev/vda1"
    -blockdev <qcow2 overlay of the emi> -device virtio-blk-pci ... -device virtio-net-pci ...
The emi is a partitioned disk (MBR, ext4 on partition 1) made without loop devices or mounts.
Builds are cached: a stamp of every input makes a second call a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mallee.images import cpio, guest
from mallee.node.host import run

BUILDER_VERSION = "1"
DISK_MIB = 64
PART_OFFSET = 1 << 20


@dataclass(frozen=True)
class DefaultImage:
    kernel: Path
    ramdisk: Path
    root: Path


def _paths(image_dir: Path) -> DefaultImage:
    return DefaultImage(image_dir / "vmlinuz", image_dir / "initrd.gz", image_dir / "root.qcow2")


def default_image_paths(image_dir: Path) -> DefaultImage | None:
    image = _paths(image_dir)
    ready = all(p.is_file() for p in (image.kernel, image.ramdisk, image.root))
    return image if ready and (image_dir / "stamp").is_file() else None


def _kernel_package() -> str:
    out = run(["apt-cache", "depends", "linux-image-cloud-amd64"]).stdout
    for line in out.splitlines():
        name = line.strip().removeprefix("Depends: ")
        if name.startswith("linux-image-") and name != line.strip():
            return name
    raise RuntimeError("apt knows no Debian cloud kernel (linux-image-cloud-amd64)")


def _version(package: str) -> str:
    return run(["dpkg-query", "-W", "-f=${Version}", package]).stdout.strip()


def _stamp(kernel_package: str) -> str:
    inputs = {
        "builder": BUILDER_VERSION,
        "kernel": kernel_package,
        "busybox": _version("busybox-static"),
        "dropbear": _version("dropbear-bin"),
        "guest": hashlib.sha256(
            "".join(
                [guest.STAGE1, guest.RCS, guest.INITTAB, guest.UDHCPC_SCRIPT, *guest.MODULES]
            ).encode()
        ).hexdigest(),
    }
    return json.dumps(inputs, sort_keys=True)


def build_default_image(image_dir: Path, *, force: bool = False) -> DefaultImage:
    image_dir.mkdir(parents=True, exist_ok=True)
    package = _kernel_package()
    stamp = _stamp(package)
    stamp_file = image_dir / "stamp"
    done = default_image_paths(image_dir)
    if done and not force and stamp_file.read_text() == stamp:
        return done
    with tempfile.TemporaryDirectory(dir=image_dir) as tmp:
        work = Path(tmp)
        kernel_root = _fetch_kernel(image_dir / "debs", package, work / "kernel")
        modules = _modules(kernel_root)
        initrd = work / "initrd.gz"
        initrd.write_bytes(_initramfs(modules))
        rootfs = work / "rootfs"
        _root_tree(rootfs)
        disk = work / "root.qcow2"
        _disk(rootfs, work / "root.raw", disk)
        vmlinuz = next((kernel_root / "boot").glob("vmlinuz-*"))
        target = _paths(image_dir)
        shutil.copyfile(vmlinuz, work / "vmlinuz")
        for built, final in ((work / "vmlinuz", target.kernel), (initrd, target.ramdisk)):
            os.replace(built, final)
        os.replace(disk, target.root)
    stamp_file.write_text(stamp)
    return _paths(image_dir)


def _fetch_kernel(debs: Path, package: str, into: Path) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        run(["apt-get", "download", package], timeout=600, cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    run(["dpkg", "-x", str(found[-1]), str(into)], timeout=600)
    return into


def _modules(kernel_root: Path) -> dict[str, bytes]:
    """name -> the .ko bytes, decompressed if the package ships them compressed."""
    out: dict[str, bytes] = {}
    for name in guest.MODULES:
        for candidate in (name, name.replace("_", "-")):
            hits = list(kernel_root.glob(f"lib/modules/*/kernel/**/{candidate}.ko*"))
            if hits:
                out[name] = _decompress(hits[0])
                break
    missing = [m for m in guest.MODULES if m not in out]
    if missing:
        raise RuntimeError(f"kernel package lacks modules: {missing}")
    return out


def _decompress(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        import lzma

        return lzma.decompress(data)
    if path.suffix != ".ko":
        raise RuntimeError(f"unsupported module compression: {path.name}")
    return data


def _initramfs(modules: dict[str, bytes]) -> bytes:
    busybox = Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    archive = cpio.Archive()
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        archive.directory(d)
    archive.device("dev/console", char=True, major=5, minor=1)
    archive.device("dev/null", char=True, major=1, minor=3)
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", guest.STAGE1.format(modules=" ".join(guest.MODULES)).encode(), 0o755)
    for name, data in modules.items():
        archive.file(f"lib/modules/{name}.ko", data, 0o644)
    return archive.gzipped()


def _root_tree(root: Path) -> None:
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc/euca",
        "etc/acpi/PWRF",
        "dev",
        "proc",
        "sys",
        "run",
        "tmp",
        "root",
        "var/log",
        "www",
        "usr/share/udhcpc",
        "etc/dropbear",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    shutil.copy2(busybox, root / "bin/busybox")
    for applet in run([str(busybox), "--list-full"]).stdout.split():
        link = root / applet
        if applet != "bin/busybox" and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(root / "bin/busybox", link.parent))
    files = {
        "etc/inittab": (guest.INITTAB, 0o644),
        "etc/euca/rcS": (guest.RCS, 0o755),
        "etc/euca/rc.shutdown": (guest.RC_SHUTDOWN, 0o755),
        "usr/share/udhcpc/default.script": (guest.UDHCPC_SCRIPT, 0o755),
        "etc/acpi/PWRF/00000080": (guest.POWER_BUTTON, 0o755),
        "etc/passwd": (guest.PASSWD, 0o644),
        "etc/shadow": (guest.SHADOW, 0o600),
        "etc/shells": (guest.SHELLS, 0o644),
        "etc/group": ("root:x:0:\n", 0o644),
    }
    for rel, (text, mode) in files.items():
        (root / rel).write_text(text)
        (root / rel).chmod(mode)
    (root / "root").chmod(0o700)
    _dropbear(root)


def _dropbear(root: Path) -> None:
    """dropbear is dynamically linked: copy it with the libraries ldd names."""
    binary = Path("/usr/sbin/dropbear")
    for path in [binary, *_libraries(binary)]:
        target = root / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path.resolve(), target)


def _libraries(binary: Path) -> list[Path]:
    out = []
    for line in run(["ldd", str(binary)]).stdout.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1:
            out.append(Path(parts[parts.index("=>") + 1]))
        elif parts and parts[0].startswith("/"):
            out.append(Path(parts[0]))
    return [p for p in out if p.is_file()]


def _disk(tree: Path, raw: Path, qcow2: Path) -> None:
    size = DISK_MIB << 20
    with raw.open("wb") as f:
        f.truncate(size)
        # One bootable Linux partition from 1 MiB to the end (MBR, no fdisk needed).
        start, count = PART_OFFSET // 512, (size - PART_OFFSET) // 512
        entry = struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x83, b"\0\0\0", start, count)
        f.seek(446)
        f.write(entry)
        f.seek(510)
        f.write(b"\x55\xaa")
    part_kib = (size - PART_OFFSET) // 1024
    run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L",
            "euca-root",
            "-E",
            f"offset={PART_OFFSET}",
            "-d",
            str(tree),
            str(raw),
            f"{part_kib}k",
        ]
    )
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", str(raw), str(qcow2)])
    raw.unlink()
