"""AWS's SigV4 test suite, taken at test time from botocore's source distribution on PyPI.

It is not vendored: the session fixture downloads the sdist of the installed botocore (or, if
PyPI lacks that version's sdist, the newest one) into a cache and extracts only the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

import pytest

SUITE_PREFIX = "tests/unit/auth/aws4_testsuite/"


def _cache_dir() -> Path:
    base = os.environ.get("MALLEE_TEST_CACHE") or os.path.expanduser("~/.cache/mallee-test")
    path = Path(base) / "aws4_testsuite"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download(spec: str, dest: Path) -> Path | None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-binary",
        ":all:",
        "--no-deps",
        "--quiet",
        spec,
        "-d",
        str(dest),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        return None
    found = sorted(dest.glob("botocore-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive, "r:gz") as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.split("/", 1)[-1].startswith(SUITE_PREFIX) and (m.isfile() or m.isdir())
        ]
        tar.extractall(dest, members=members, filter="data")
    top = archive.name.removesuffix(".tar.gz")
    return dest / top / SUITE_PREFIX


@pytest.fixture(scope="session")
def aws4_suite() -> Path:
    cache = _cache_dir()
    wanted = version("botocore")
    archive = cache / f"botocore-{wanted}.tar.gz"
    if not archive.exists():
        archive = _download(f"botocore=={wanted}", cache) or _download("botocore", cache) or archive
    if not archive.exists():
        message = "could not download botocore's sdist from PyPI for the SigV4 test suite"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    suite = cache / archive.name.removesuffix(".tar.gz") / SUITE_PREFIX
    if not suite.is_dir():
        suite = _extract(archive, cache)
    return suite
