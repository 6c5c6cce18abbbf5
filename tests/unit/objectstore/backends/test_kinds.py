"""Blobs of a kind (snapshot chunks: `snap`) have ids of their own that `listing` finds, with
when each was written, on both backends; other blobs are never listed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mallee.objectstore.backends import Backend
from mallee.objectstore.backends.fs import FsBackend


def _s3(tmp_path: Path) -> Iterator[Backend]:
    from moto.server import ThreadedMotoServer

    from mallee.objectstore.backends.s3 import S3Backend, make_client

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = make_client(f"http://{host}:{port}", "testing", "testing")
        backend = S3Backend(client, "blobs", prefix="objects/")
        backend.ensure_bucket()
        yield backend
    finally:
        server.stop()


@pytest.fixture(params=["fs", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "fs":
        yield FsBackend(tmp_path / "objects")
    else:
        yield from _s3(tmp_path)


def test_blobs_of_a_kind_are_listed_and_only_they(backend: Backend) -> None:
    before = time.time() - 5
    chunk = backend.put([b"chunk ", b"data"], "snap")
    plain = backend.put([b"an object"])
    assert chunk.blob_id.startswith("snap-") and len(chunk.blob_id) == 37
    assert "-" not in plain.blob_id
    assert b"".join(backend.read(chunk.blob_id)) == b"chunk data"
    listed = dict(backend.listing("snap"))
    assert set(listed) == {chunk.blob_id}
    assert before <= listed[chunk.blob_id] <= time.time() + 5
    assert list(backend.listing("other")) == []
    backend.delete(chunk.blob_id)
    assert list(backend.listing("snap")) == []
    with pytest.raises(ValueError):
        backend.delete("Snap-" + "0" * 32)  # not an id the backend makes
