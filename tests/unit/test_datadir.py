"""The data directory is the owner's alone: made so, or tightened once when an older mallee
left it readable; a shared directory is refused rather than locked up."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.datadir import MARKER, SharedDirectoryError, make_private, tighten


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """As an older mallee (or any process) would have made its files."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.lstat().st_mode)}
    for top, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(top) / name
            if not path.is_symlink():
                found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def old_install(root: Path) -> None:
    (root / "objects" / "ab" / "cd").mkdir(parents=True)
    (root / "objects" / "ab" / "cd" / "blob").write_bytes(b"secret")
    (root / "mallee.db").write_bytes(b"keys")
    (root / "nodes" / "n" / "instances" / "i-1").mkdir(parents=True)
    (root / "nodes" / "n" / "instances" / "i-1" / "root.qcow2").write_bytes(b"user-data")
    os.chmod(root, 0o755)


def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "a" / "data"
    assert make_private(data) == 0
    assert modes(data) == {".": 0o700, MARKER: 0o600}


def test_an_old_install_is_tightened_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old_install(data)
    outside = tmp_path / "outside"
    outside.write_text("not ours")
    (data / "link").symlink_to(outside)
    assert {m & 0o077 for m in modes(data).values()} == {0o055, 0o044}

    assert make_private(data) == 11
    assert all(m & 0o077 == 0 for m in modes(data).values()), modes(data)
    assert modes(data)["mallee.db"] == 0o600 and modes(data)["objects"] == 0o700
    # A link is neither changed nor followed.
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644

    # Done once: a later start does not walk the tree again ...
    (data / "late").write_text("x")
    assert make_private(data) == 0 and modes(data)["late"] == 0o644
    # ... unless the directory was opened up again.
    os.chmod(data, 0o755)
    assert make_private(data) == 2 and modes(data)["late"] == 0o600


@pytest.mark.parametrize("mode", [0o1777, 0o777])
def test_a_shared_directory_is_refused(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "someone-elses").write_text("x")
    os.chmod(shared, mode)
    with pytest.raises(SharedDirectoryError):
        make_private(shared)
    assert modes(shared) == {".": mode, "someone-elses": 0o644}


def test_tighten_keeps_the_owners_bits(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o755)
    assert tighten(tmp_path) == 1  # pytest made tmp_path 0700
    assert stat.S_IMODE(script.stat().st_mode) == 0o700
