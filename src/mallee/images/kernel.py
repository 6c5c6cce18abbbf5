"""The Debian cloud kernel: fetched with apt, unpacked with dpkg, decompressed to an ELF vmlinux.

QEMU boots an ELF vmlinux that carries a PVH note directly (no decompressor, no real-mode setup),
which under TCG reaches /init about a third sooner than the bzImage.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import lzma
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from mallee.commands import run

META_PACKAGE = "linux-image-cloud-amd64"
# bzImage payload compression -> (leading magic, the Debian tool that inflates it).
_TOOLS = {
    "lz4": (b"\x02\x21\x4c\x18", ["lz4", "-d", "-q", "-f"]),
    "zstd": (b"\x28\xb5\x2f\xfd", ["zstd", "-d", "-q", "-f"]),
}


@dataclass(frozen=True)
class KernelPackage:
    name: str
    version: str


def candidate(memo: Path | None = None) -> KernelPackage:
    """The kernel package linux-image-cloud-amd64 currently depends on, and its version.

    apt-cache takes most of a second here (no binary package cache), so the answer is kept in
    memo together with a fingerprint of apt's lists and configuration, which it depends on.
    """
    state = _apt_state()
    if memo is not None:
        try:
            known = json.loads(memo.read_text())
            if known["apt"] == state:
                return KernelPackage(known["name"], known["version"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    found = _ask_apt()
    if memo is not None:
        memo.write_text(json.dumps({"apt": state, "name": found.name, "version": found.version}))
    return found


def _apt_state() -> str:
    h = hashlib.sha256()
    for top in (Path("/var/lib/apt/lists"), Path("/etc/apt")):
        for dirpath, _, filenames in sorted(os.walk(top)):
            for name in sorted(filenames):
                with contextlib.suppress(OSError):
                    info = (Path(dirpath) / name).stat()
                    h.update(f"{dirpath}/{name} {info.st_mtime_ns} {info.st_size}\n".encode())
    return h.hexdigest()


def _ask_apt() -> KernelPackage:
    out = run(["apt-cache", "show", "--no-all-versions", META_PACKAGE], check=False).stdout
    for line in out.splitlines():
        if not line.startswith("Depends:"):
            continue
        for dep in line.removeprefix("Depends:").split(","):
            name, _, rest = dep.strip().partition(" ")
            if name.startswith("linux-image-"):
                if rest.startswith("(= "):
                    return KernelPackage(name, rest.removeprefix("(= ").removesuffix(")"))
                return KernelPackage(name, _candidate_version(name))
    raise RuntimeError(f"apt knows no Debian cloud kernel ({META_PACKAGE}); run apt-get update")


def _candidate_version(package: str) -> str:
    for line in run(["apt-cache", "policy", package]).stdout.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "Candidate" and value != "(none)":
            return value
    raise RuntimeError(f"apt has no installable version of {package}")


def fetch_name(package: KernelPackage) -> str:
    # apt names the file with the version's epoch colon escaped.
    return f"{package.name}_{package.version.replace(':', '%3a')}_amd64.deb"


def fetch(package: KernelPackage, cache: Path) -> Path:
    """The package's .deb, downloaded into cache once."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = fetch_name(package)
    if not (cache / wanted).is_file():
        run(["apt-get", "download", f"{package.name}={package.version}"], timeout=900, cwd=cache)
    if not (cache / wanted).is_file():
        raise RuntimeError(f"apt-get download left no {wanted} in {cache}")
    return cache / wanted


def unpack(deb: Path, into: Path) -> Path:
    """dpkg -x the package; the kernel's root (boot/, lib/modules/)."""
    run(["dpkg", "-x", str(deb), str(into)], timeout=600)
    return into


def version(kernel_root: Path) -> str:
    found = sorted(p.name for p in (kernel_root / "lib/modules").iterdir())
    if not found:
        raise RuntimeError("the kernel package has no lib/modules/<version>")
    return found[-1]


def bzimage(kernel_root: Path) -> Path:
    return kernel_root / "boot" / f"vmlinuz-{version(kernel_root)}"


def payload(image: bytes) -> bytes:
    """The compressed vmlinux inside a bzImage, located by its boot-protocol header."""
    if image[0x202:0x206] != b"HdrS" or struct.unpack_from("<H", image, 0x206)[0] < 0x208:
        raise ValueError("not a bzImage with boot protocol 2.08 or later")
    setup_sectors = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sectors + 1) * 512 + offset
    # The build appends the decompressed size (4 bytes) to the compressed stream.
    return image[start : start + length - 4]


def extract_vmlinux(image: bytes, work: Path) -> bytes:
    """Decompress a bzImage's payload to the ELF vmlinux."""
    data = payload(image)
    if data.startswith(b"\x1f\x8b"):
        out = gzip.decompress(data)
    elif data.startswith(b"\xfd7zXZ\x00"):
        out = lzma.decompress(data)
    else:
        out = _with_tool(data, work)
    if not out.startswith(b"\x7fELF"):
        raise ValueError("the bzImage payload did not decompress to an ELF vmlinux")
    return out


def _with_tool(data: bytes, work: Path) -> bytes:
    for name, (magic, argv) in _TOOLS.items():
        if data.startswith(magic):
            packed, plain = work / f"vmlinux.{name}", work / "vmlinux.raw"
            packed.write_bytes(data)
            run([*argv, str(packed), str(plain)], timeout=300)
            out = plain.read_bytes()
            packed.unlink()
            plain.unlink()
            return out
    raise ValueError(f"unknown bzImage payload compression (magic {data[:4].hex()})")


def modules(kernel_root: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """name -> .ko bytes, for each module the guest loads (decompressed if shipped xz'd)."""
    base = kernel_root / "lib/modules" / version(kernel_root) / "kernel"
    index: dict[str, Path] = {}
    for path in base.rglob("*.ko*"):
        index[path.name.split(".ko")[0].replace("-", "_")] = path
    missing = [n for n in names if n not in index]
    if missing:
        raise RuntimeError(f"the kernel package lacks modules {missing}")
    out = {}
    for name in names:
        path = index[name]
        raw = path.read_bytes()
        out[name] = lzma.decompress(raw) if path.name.endswith(".xz") else raw
    return out
