"""The process's S3 backend (services/s3/blobs.py): made once, on first use, and only then
known to be local, so a GET may be answered on the event loop."""

from __future__ import annotations

from pathlib import Path

from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.services.base import Runtime
from mallee.services.s3 import blobs
from mallee.store import Store


def test_the_backend_is_made_once_and_only_then_known(store: Store, tmp_path: Path) -> None:
    rt = Runtime(Settings(data_dir=tmp_path), store)
    get = HttpRequest("GET", "/bucket/key", "", {})
    assert blobs.made_backend(rt) is None
    assert not blobs.answers_at_once(rt, get)
    # Made first, before anything asked whether it was made (the runtime's lock is not
    # reentrant: making it must not ask `shared` again while holding it).
    made = blobs.backend(rt)
    assert made.name == "fs"
    assert blobs.backend(rt) is made
    assert blobs.made_backend(rt) is made
    assert blobs.answers_at_once(rt, get) == store.is_sqlite
    assert not blobs.answers_at_once(rt, HttpRequest("GET", "/bucket", "", {}))
    assert not blobs.answers_at_once(rt, HttpRequest("PUT", "/bucket/key", "", {}))


def test_making_the_backend_first_does_not_wait_on_itself(store: Store, tmp_path: Path) -> None:
    rt = Runtime(Settings(data_dir=tmp_path), store)
    assert blobs.backend(rt).name == "fs"
