"""The `ceph-rbd` backend (Eucalyptus' Ceph SC): each volume an RBD image named after it, in the
pool its row records, made and changed with the `rbd` command as the zone's Ceph user.

No NBD export: QEMU on the nodes opens the image itself (its rbd driver), so the storage host
holds no data. A snapshot's point-in-time copy is an RBD snapshot of the image (named after the
EBS snapshot), whatever has the image open; its data extents come from `rbd diff` and its bytes
from one `rbd export-diff` stream read in order, so the work follows the data written, not the
volume's size. A volume from a snapshot is a new image under a temporary name, its chunks
streamed into it by `rbd import-diff`, then renamed: an image with the volume's name is whole.
Every step is idempotent, as the agent repeats the step it was killed in.
"""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from mallee.commands import CommandError, run, spawn
from mallee.storage.backends import CephClient, Fill
from mallee.storage.snapshots import Extent, VolumeReader

# `rbd export-diff`/`import-diff` format 1: this header, then tagged records, little-endian.
DIFF_HEADER = b"rbd diff v1\n"
TIMEOUT = 120.0
# An import's image may be large: its copy into the cluster is given as long as its conversion.
IMPORT_TIMEOUT = 6 * 3600.0


class RbdError(OSError):
    """An rbd or ceph command failed (what it said is the message)."""


def _le64(value: int) -> bytes:
    return struct.pack("<Q", value)


def diff_size(size: int) -> bytes:
    """The diff stream's start for an image of `size` bytes."""
    return DIFF_HEADER + b"s" + _le64(size)


def diff_write(offset: int, data: bytes | memoryview) -> bytes:
    return b"w" + _le64(offset) + _le64(len(data))


DIFF_END = b"e"


def _exactly(stream: IO[bytes], count: int) -> bytes:
    got = bytearray()
    while len(got) < count:
        piece = stream.read(count - len(got))
        if not piece:
            raise RbdError(errno.EIO, f"export-diff stream ended {count - len(got)} bytes early")
        got += piece
    return bytes(got)


def diff_records(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(offset, data) of each data record of an `rbd export-diff` stream, in its order;
    zero records are left out (what is not written reads as zeros)."""
    if _exactly(stream, len(DIFF_HEADER)) != DIFF_HEADER:
        raise RbdError(errno.EPROTO, "not an rbd diff v1 stream")
    while True:
        tag = _exactly(stream, 1)
        if tag == b"e":
            return
        if tag in (b"f", b"t"):  # the snapshots it is from / to: a length, then a name
            (length,) = struct.unpack("<I", _exactly(stream, 4))
            _exactly(stream, length)
        elif tag == b"s":
            _exactly(stream, 8)
        elif tag in (b"w", b"z"):
            offset, length = struct.unpack("<QQ", _exactly(stream, 16))
            if tag == b"w":
                yield offset, _exactly(stream, length)
        else:
            raise RbdError(errno.EPROTO, f"unknown rbd diff record {tag!r}")


class PieceReader:
    """Serves VolumeReader.read from records in ascending order: each piece takes the bytes of
    the records within it and keeps a record's tail beyond it for the next piece."""

    def __init__(self, records: Iterator[tuple[int, bytes]]) -> None:
        self._records = records
        self._current: tuple[int, bytes] | None = None

    def read(self, offset: int, length: int, parts: list[Extent]) -> bytearray:
        buf = bytearray(length)
        end = offset + length
        while True:
            if self._current is None:
                self._current = next(self._records, None)
                if self._current is None:
                    return buf
            at, data = self._current
            if at >= end:
                return buf
            lo, hi = max(at, offset), min(at + len(data), end)
            if hi > lo:
                buf[lo - offset : hi - offset] = data[lo - at : hi - at]
            if at + len(data) > end:
                return buf
            self._current = None


def diff_extents(text: str) -> list[Extent]:
    """The data extents `rbd diff --format json` lists, in ascending order."""
    found: list[dict[str, Any]] = json.loads(text or "[]")
    extents = [
        Extent(int(e["offset"]), int(e["length"]), int(e["offset"]))
        for e in found
        if str(e.get("exists", "true")) == "true" and int(e["length"]) > 0
    ]
    return sorted(extents, key=lambda e: e.start)


class RbdBackend:
    name = "ceph-rbd"
    # QEMU on the nodes opens the image itself.
    nbd_exported = False

    def __init__(
        self,
        client: CephClient,
        pool: str,
        runner: Callable[..., subprocess.CompletedProcess[str]] = run,
    ) -> None:
        self.client = client
        self.pool = pool
        self._run = runner

    # --- command lines --------------------------------------------------------------------

    def _auth(self) -> list[str]:
        argv = ["--conf", self.client.conf, "--id", self.client.user]
        # A cluster without cephx has no keyring to give.
        if self.client.keyring and Path(self.client.keyring).exists():
            argv += ["--keyring", self.client.keyring]
        return argv

    def argv(self, *args: str) -> list[str]:
        return ["rbd", *self._auth(), *args]

    def spec(self, image: str, snapshot: str = "") -> str:
        return f"{self.pool}/{image}" + (f"@{snapshot}" if snapshot else "")

    def _rbd(self, *args: str, missing_ok: bool = False, timeout: float = TIMEOUT) -> str:
        try:
            return self._run(self.argv(*args), timeout=timeout).stdout
        except CommandError as err:
            if missing_ok and err.code == errno.ENOENT:
                return ""
            raise RbdError(errno.EIO, str(err)) from err
        except subprocess.TimeoutExpired as err:
            raise RbdError(errno.ETIMEDOUT, f"rbd {args[0]} took over {timeout:g}s") from err

    def _info(self, image: str, snapshot: str = "") -> dict[str, Any] | None:
        out = self._rbd("info", "--format", "json", self.spec(image, snapshot), missing_ok=True)
        info: dict[str, Any] | None = json.loads(out) if out.strip() else None
        return info

    # --- the backend ------------------------------------------------------------------------

    def exists(self, volume_id: str) -> bool:
        return self._info(volume_id) is not None

    def create(self, volume_id: str, size_gib: int, fill: Fill | None = None) -> None:
        if self.exists(volume_id):
            return
        if fill is None:
            # `rbd create` makes the whole image at once: nothing half-made can be left.
            self._rbd("create", "--size", f"{size_gib}G", self.spec(volume_id))
            return
        tmp = f"{volume_id}.tmp"
        self._remove(tmp)
        self._rbd("create", "--size", f"{size_gib}G", self.spec(tmp))
        self._import(tmp, size_gib << 30, fill)
        self._rbd("rename", self.spec(tmp), self.spec(volume_id))

    def _import(self, image: str, size: int, fill: Fill) -> None:
        proc = spawn(
            self.argv("import-diff", "--no-progress", "-", self.spec(image)), stdin=subprocess.PIPE
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(diff_size(size))

            def write(offset: int, data: bytes | memoryview) -> None:
                assert proc.stdin is not None
                proc.stdin.write(diff_write(offset, data))
                proc.stdin.write(data)

            fill(write)
            proc.stdin.write(DIFF_END)
            proc.stdin.close()
            proc.stdin = None  # closed: communicate() must not flush it
        except BrokenPipeError:
            proc.stdin = None  # it failed early: its stderr says why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        try:
            _, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RbdError(errno.ETIMEDOUT, f"rbd import-diff into {image} did not end") from None
        if proc.returncode != 0:
            said = err.decode(errors="replace").strip()[-2000:]
            raise RbdError(
                errno.EIO, f"rbd import-diff into {image} exited {proc.returncode}: {said}"
            )

    def import_file(self, volume_id: str, size_gib: int, raw: Path) -> Path:
        """`rbd import` of the converted image (its zero blocks skipped: the image stays thin)
        under a temporary name, grown to size, then renamed. The file is left as it was."""
        if self.exists(volume_id):
            return raw
        tmp = f"{volume_id}.tmp"
        self._remove(tmp)
        self._rbd("import", "--no-progress", str(raw), self.spec(tmp), timeout=IMPORT_TIMEOUT)
        info = self._info(tmp)
        if info is None:
            raise RbdError(errno.ENOENT, f"{self.spec(tmp)}: not made by rbd import")
        if int(info["size"]) < size_gib << 30:
            self._rbd("resize", "--size", f"{size_gib}G", self.spec(tmp))
        self._rbd("rename", self.spec(tmp), self.spec(volume_id))
        return raw

    def grow(self, volume_id: str, size_gib: int) -> None:
        info = self._info(volume_id)
        if info is None:
            raise RbdError(errno.ENOENT, f"{self.spec(volume_id)}: no such image")
        if int(info["size"]) < size_gib << 30:
            self._rbd("resize", "--size", f"{size_gib}G", self.spec(volume_id))

    def _remove(self, image: str) -> None:
        # An image with snapshots (a snapshot's copy an agent was killed in) cannot be removed.
        self._rbd("snap", "purge", self.spec(image), missing_ok=True)
        self._rbd("rm", self.spec(image), missing_ok=True)

    def delete(self, volume_id: str) -> None:
        self._remove(volume_id)
        self._remove(f"{volume_id}.tmp")

    def capacity_bytes(self) -> int:
        argv = ["ceph", *self._auth(), "--connect-timeout", "10", "df", "--format", "json"]
        try:
            out = self._run(argv, timeout=30).stdout
        except (CommandError, subprocess.TimeoutExpired) as err:
            raise RbdError(errno.EIO, f"ceph df: {err}") from err
        return int(json.loads(out)["stats"]["total_bytes"])

    @contextlib.contextmanager
    def reader(
        self, volume_id: str, snapshot_id: str, backup: Callable[[Path, int], None] | None
    ) -> Iterator[VolumeReader]:
        """An RBD snapshot of the image (point-in-time, whether or not a guest writes it),
        read in one export-diff stream; the RBD snapshot goes when the copy is done."""
        image = self.spec(volume_id)
        # One left by an agent killed mid-copy is from then: the copy starts over from now.
        self._rbd("snap", "rm", self.spec(volume_id, snapshot_id), missing_ok=True)
        self._rbd("snap", "create", self.spec(volume_id, snapshot_id))
        try:
            info = self._info(volume_id, snapshot_id)
            if info is None:
                raise RbdError(errno.ENOENT, f"{image}: no such image")
            extents = diff_extents(
                self._rbd("diff", "--format", "json", self.spec(volume_id, snapshot_id))
            )
            proc = spawn(
                self.argv("export-diff", "--no-progress", self.spec(volume_id, snapshot_id), "-"),
                stdout=subprocess.PIPE,
            )
            assert proc.stdout is not None
            try:
                pieces = PieceReader(diff_records(proc.stdout))
                yield VolumeReader(int(info["size"]), extents, pieces.read)
            finally:
                if proc.poll() is None:
                    proc.kill()
                _, err = proc.communicate()
                if proc.returncode not in (0, -signal.SIGKILL):
                    said = err.decode(errors="replace").strip()[-2000:]
                    raise RbdError(errno.EIO, f"rbd export-diff of {image}: {said}")
        finally:
            self._rbd("snap", "rm", self.spec(volume_id, snapshot_id), missing_ok=True)
