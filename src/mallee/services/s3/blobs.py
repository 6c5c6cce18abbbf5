"""The process's storage backend for S3: made once, whether it is local (a request may then
be answered on the event loop), and freeing blobs no version references any more."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mallee.api.http import HttpRequest
from mallee.objectstore.backends import Backend, make_backend
from mallee.services.base import Runtime

log = logging.getLogger(__name__)

_JANITOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="s3-free")


@dataclass(slots=True)
class _Made:
    backend: Backend | None = None


def backend(rt: Runtime) -> Backend:
    """The backend, made by the first request that needs it (making an s3 backend talks to its
    store, so never on the event loop before a worker has made it)."""
    # Taken before `shared` holds the runtime's lock, which is not reentrant.
    made = _made(rt)
    return rt.shared("s3.backend", lambda: _make(rt, made))


def made_backend(rt: Runtime) -> Backend | None:
    """The backend if a request has made it already; never makes it."""
    return _made(rt).backend


def _made(rt: Runtime) -> _Made:
    return rt.shared("s3.backend.made", _Made)


def _make(rt: Runtime, made: _Made) -> Backend:
    found = made.backend = make_backend(rt.settings, rt.store)
    return found


def answers_at_once(rt: Runtime, request: HttpRequest) -> bool:
    """Whether the server may run this request on its event loop, skipping the hand-over
    to a worker thread and back (a sizeable part of a small GET's time): a GET or HEAD of
    one object, without body or query, when nothing it does can wait on a network (SQLite
    metadata, fs backend) and its work is a lookup, never a long listing. (What else such
    a request may do is as local: reading credentials and policies, and at most once a
    minute per access key a one-row SQLite write recording the key's last use.)"""
    _, _, key = request.path.lstrip("/").partition("/")
    # Until a request on a worker has made the backend, nothing is known to be local.
    found = made_backend(rt)
    return (
        request.method in ("GET", "HEAD")
        and not request.query
        and bool(key)
        and found is not None
        and found.name == "fs"
        and rt.store.is_sqlite
    )


def free_blobs(rt: Runtime, blob_ids: Iterable[str]) -> None:
    """Delete blobs no version references any more (their rows are committed away).

    Done after the answer is on its way: a crash in between leaves an unreferenced blob,
    never a reference to a missing one. Readers that opened a blob keep reading it.
    """
    found = backend(rt)
    for blob_id in blob_ids:
        _JANITOR.submit(_delete_quietly, found, blob_id)


def _delete_quietly(found: Backend, blob_id: str) -> None:
    try:
        found.delete(blob_id)
    except Exception:
        log.exception("could not delete blob %s", blob_id)
