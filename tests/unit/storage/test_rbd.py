"""The ceph-rbd backend's command lines and its parsing of rbd's output (no cluster: the
commands are recorded and answered here; tests/vm/test_volumes_rbd.py runs them for real)."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mallee.commands import CommandError
from mallee.storage.backends import CephClient
from mallee.storage.rbd import (
    DIFF_END,
    PieceReader,
    RbdBackend,
    RbdError,
    diff_extents,
    diff_records,
    diff_size,
    diff_write,
)
from mallee.storage.snapshots import Extent, pieces

CONF = "/srv/ceph/ceph.conf"
PREFIX = ["rbd", "--conf", CONF, "--id", "eucalyptus"]


class Rbd:
    """Records each command; answers `info` from the images it knows, fails what it is told."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.images: dict[str, int] = {}
        self.missing_code = 2

    def __call__(self, argv: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        args = argv[len(PREFIX) :] if argv[0] == "rbd" else argv
        out = ""
        if args[:1] == ["info"]:
            image = args[-1]
            if image not in self.images:
                raise CommandError(argv, self.missing_code, f"error opening image {image}")
            out = json.dumps({"name": image, "size": self.images[image]})
        elif args[:1] in (["rm"], ["snap"]) and args[-1] not in self.images:
            raise CommandError(argv, 2, "No such file or directory")
        elif args[:1] == ["create"]:
            self.images[args[-1]] = int(args[2].rstrip("G")) << 30
        elif argv[0] == "ceph":
            out = json.dumps({"stats": {"total_bytes": 8 << 30}})
        return subprocess.CompletedProcess(argv, 0, out, "")

    def commands(self) -> list[list[str]]:
        return [c[len(PREFIX) :] for c in self.calls if c[0] == "rbd"]


@pytest.fixture
def rbd() -> Rbd:
    return Rbd()


def backend(rbd: Rbd, keyring: str = "/nonexistent/keyring") -> RbdBackend:
    return RbdBackend(CephClient(CONF, "eucalyptus", keyring), "volumes", runner=rbd)


def test_the_client_options_and_a_keyring_only_when_there_is_one(rbd: Rbd, tmp_path: Path) -> None:
    assert backend(rbd).argv("ls") == [*PREFIX, "ls"]
    keyring = tmp_path / "ceph.client.eucalyptus.keyring"
    keyring.write_text("[client.eucalyptus]\n\tkey = AQ==\n")
    assert backend(rbd, str(keyring)).argv("ls") == [
        "rbd", "--conf", CONF, "--id", "eucalyptus", "--keyring", str(keyring), "ls",
    ]  # fmt: skip


def test_create_is_one_command_and_idempotent(rbd: Rbd) -> None:
    b = backend(rbd)
    b.create("vol-1", 2)
    assert rbd.commands() == [
        ["info", "--format", "json", "volumes/vol-1"],
        ["create", "--size", "2G", "volumes/vol-1"],
    ]
    assert b.exists("vol-1")
    rbd.calls.clear()
    b.create("vol-1", 2)
    assert rbd.commands() == [["info", "--format", "json", "volumes/vol-1"]]


def test_grow_resizes_only_a_smaller_image(rbd: Rbd) -> None:
    b = backend(rbd)
    rbd.images["volumes/vol-1"] = 1 << 30
    b.grow("vol-1", 3)
    assert rbd.commands()[-1] == ["resize", "--size", "3G", "volumes/vol-1"]
    rbd.images["volumes/vol-1"] = 3 << 30
    rbd.calls.clear()
    b.grow("vol-1", 3)
    assert [c[0] for c in rbd.commands()] == ["info"]
    with pytest.raises(RbdError):
        b.grow("vol-2", 3)


def test_delete_purges_snapshots_first_and_tolerates_what_is_gone(rbd: Rbd) -> None:
    rbd.images["volumes/vol-1"] = 1 << 30
    backend(rbd).delete("vol-1")
    assert rbd.commands() == [
        ["snap", "purge", "volumes/vol-1"],
        ["rm", "volumes/vol-1"],
        ["snap", "purge", "volumes/vol-1.tmp"],
        ["rm", "volumes/vol-1.tmp"],
    ]


def test_other_failures_are_os_errors(rbd: Rbd) -> None:
    rbd.missing_code = 110  # a cluster that does not answer is not a missing image
    with pytest.raises(RbdError) as err:
        backend(rbd).exists("vol-1")
    assert isinstance(err.value, OSError) and "error opening image" in str(err.value)


def test_capacity_is_the_cluster_size(rbd: Rbd) -> None:
    assert backend(rbd).capacity_bytes() == 8 << 30
    assert rbd.calls[-1][:5] == ["ceph", "--conf", CONF, "--id", "eucalyptus"]


def test_diff_extents_keep_data_in_order() -> None:
    text = json.dumps(
        [
            {"offset": 104857600, "length": 8192, "exists": "true"},
            {"offset": 4194304, "length": 1048576, "exists": "true"},
            {"offset": 0, "length": 4096, "exists": "false"},
        ]
    )
    assert diff_extents(text) == [
        Extent(4194304, 1048576, 4194304),
        Extent(104857600, 8192, 104857600),
    ]
    assert diff_extents("") == []


def _stream(size: int, writes: list[tuple[int, bytes]], zeros: bool = True) -> io.BytesIO:
    out = bytearray(diff_size(size))
    out[len(b"rbd diff v1\n") : len(b"rbd diff v1\n")] = b"t\x04\x00\x00\x00snap"
    for offset, data in writes:
        out += diff_write(offset, data) + data
    if zeros:
        out += b"z" + (1 << 20).to_bytes(8, "little") + (4096).to_bytes(8, "little")
    return io.BytesIO(bytes(out + DIFF_END))


def test_export_diff_records_are_parsed() -> None:
    writes = [(4 << 20, b"\xab" * 1000), (100 << 20, b"\xcd" * 8192)]
    assert list(diff_records(_stream(1 << 30, writes))) == writes


def test_a_cut_or_foreign_stream_is_an_error() -> None:
    whole = _stream(1 << 30, [(0, b"x" * 100)]).getvalue()
    with pytest.raises(RbdError, match="ended"):
        list(diff_records(io.BytesIO(whole[:-60])))
    with pytest.raises(RbdError, match="not an rbd diff"):
        list(diff_records(io.BytesIO(b"rbd diff v2\n" + whole[12:])))
    with pytest.raises(RbdError, match="unknown"):
        list(diff_records(io.BytesIO(whole[:-1] + b"q")))


def test_pieces_read_from_the_stream_match_the_volume() -> None:
    chunk = 1 << 16
    size = 1 << 20
    volume = bytearray(size)
    # A record inside one piece, one across a piece boundary, one spanning three pieces.
    writes = [(100, b"a" * 50), (chunk - 10, b"b" * 30), (3 * chunk + 5, b"c" * (2 * chunk + 9))]
    for offset, data in writes:
        volume[offset : offset + len(data)] = data
    extents = [Extent(o, len(d), o) for o, d in writes]
    reader = PieceReader(diff_records(_stream(size, writes)))
    seen = 0
    for offset, length, parts in pieces(extents, size, chunk):
        assert reader.read(offset, length, parts) == volume[offset : offset + length]
        seen += 1
    assert seen == 5
