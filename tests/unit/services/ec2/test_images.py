"""What a local image file is (kernel, ramdisk, machine) and AMI name rules."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from mallee.api.errors import ServiceError
from mallee.cloud_identity import system_account_id
from mallee.services.ec2.images import check_name, image_type_of, register_local_image
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Image


def bzimage(path: Path) -> Path:
    data = bytearray(4096)
    data[0x202:0x206] = b"HdrS"
    path.write_bytes(bytes(data))
    return path


def test_file_content_decides_the_type(tmp_path: Path) -> None:
    assert image_type_of(bzimage(tmp_path / "anything")) == "kernel"
    arm = bytearray(4096)
    arm[0x38:0x3C] = b"ARM\x64"
    (tmp_path / "Image").write_bytes(bytes(arm))
    assert image_type_of(tmp_path / "Image") == "kernel"
    (tmp_path / "initrd.gz").write_bytes(gzip.compress(b"070701" + b"0" * 100))
    assert image_type_of(tmp_path / "initrd.gz") == "ramdisk"
    (tmp_path / "cpio").write_bytes(b"070701" + b"0" * 200)
    assert image_type_of(tmp_path / "cpio") == "ramdisk"
    (tmp_path / "root.qcow2").write_bytes(b"QFI\xfb" + bytes(1000))
    assert image_type_of(tmp_path / "root.qcow2") == "machine"
    (tmp_path / "tiny").write_bytes(b"")
    assert image_type_of(tmp_path / "tiny") == "machine"


def test_names_force_ambiguous_files(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux-6.1"
    elf.write_bytes(b"\x7fELF" + bytes(1000))
    assert image_type_of(elf) == "kernel"
    raw = tmp_path / "blob"
    raw.write_bytes(bytes(1000))
    assert image_type_of(raw, "debian-kernel") == "kernel"
    assert image_type_of(raw, "my-ramdisk") == "ramdisk"
    assert image_type_of(raw, "debian-12") == "machine"


def test_ami_names() -> None:
    for good in ("abc", "Debian 12 (bookworm) [x86_64] v1.0/2024-01_01 @me's"):
        assert check_name(good) == good
    for bad, code in (
        (None, "MissingParameter"),
        ("ab", "InvalidAMIName.Malformed"),
        ("a" * 129, "InvalidAMIName.Malformed"),
        ("semi;colon", "InvalidAMIName.Malformed"),
    ):
        with pytest.raises(ServiceError) as err:
            check_name(bad)
        assert err.value.code == code


def test_register_local_image_is_idempotent_by_name(store: Store, tmp_path: Path) -> None:
    ensure_system_account(store)
    owner = system_account_id(store)
    kernel = register_local_image(
        store, owner, name="k", path=bzimage(tmp_path / "vmlinuz"), image_type="kernel"
    )
    assert kernel.startswith("eki-")
    disk = tmp_path / "root.img"
    disk.write_bytes(b"one")
    first = register_local_image(store, owner, name="m", path=disk, image_type="machine")
    disk.write_bytes(b"two!")
    again = register_local_image(
        store, owner, name="m", path=disk, image_type="machine", kernel_id=kernel
    )
    assert first == again and first.startswith("emi-")
    with store.read() as s:
        row = s.get(Ec2Image, first)
        assert row is not None
        assert (row.size_bytes, row.kernel_id, row.is_public) == (4, kernel, True)
        assert row.location == f"file:{disk.resolve()}"
        assert row.digest is not None and len(row.digest) == 64
    with pytest.raises(ValueError):
        register_local_image(store, owner, name="x", path=disk, image_type="floppy")
