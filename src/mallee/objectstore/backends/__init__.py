"""Where object data lives, behind one small interface (the OSG's provider clients).

A backend stores immutable blobs under ids it chooses; the metadata store maps (bucket, key,
version) to blob ids. Keys never reach a backend, so no key can name a path. `put` returns only
once the blob is durable; readers get pieces, never the whole blob in memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from mallee.config import Settings
from mallee.store import Store


@dataclass(frozen=True, slots=True)
class Blob:
    blob_id: str
    size: int
    md5_hex: str


# What a blob is read in: bytes, or a read-only view of a file mapping (the fs backend).
Piece = bytes | memoryview


class Backend(Protocol):
    name: str

    def put(self, pieces: Iterable[Piece], kind: str = "") -> Blob:
        """Store the concatenated pieces as a new blob; raises (storing nothing) if the
        iterable raises, e.g. when the request body fails its signature check. A `kind`
        (lowercase letters) prefixes the blob's id (`kind-<hex>`), so `listing` finds it."""
        ...

    def listing(self, kind: str) -> Iterator[tuple[str, float]]:
        """(blob id, when it was written, epoch seconds) of every blob put with `kind`."""
        ...

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[Piece]:
        """Bytes [start, end) of the blob (end None: to its end), in pieces."""
        ...

    def concat(self, blob_ids: list[str]) -> Blob:
        """A new blob holding the given blobs one after another (multipart completion).

        Its md5_hex may be "" when the backend joined the blobs without reading them (the s3
        backend's UploadPartCopy): a multipart ETag comes from the parts' MD5s anyway."""
        ...

    def delete(self, blob_id: str) -> None:
        """Remove the blob; a missing one is not an error."""
        ...


class BackendNotConfigured(RuntimeError):
    """objectstorage.providerclient names a backend its properties do not yet describe."""


def make_backend(settings: Settings, store: Store) -> Backend:
    """The backend the cloud is configured for (property objectstorage.providerclient).

    Read once per api process, at the first S3 request: blobs written to one backend are not
    found in the other, so the provider client is chosen when the cloud is set up (as in
    Eucalyptus) and a change takes effect as each api process restarts."""
    from mallee.registry import properties

    if properties.get_str(store, "objectstorage.providerclient") == "s3":
        return _s3_backend(store)
    from mallee.objectstore.backends.fs import FsBackend

    return FsBackend(settings.data_dir / "objects")


# One s3 backend (one botocore client and connection pool, ~12 MiB) per store configuration in
# a process, however many providers ask for it at once.
_S3_BACKENDS: dict[tuple[str, ...], Backend] = {}
_S3_LOCK = threading.Lock()


def _s3_backend(store: Store) -> Backend:
    from mallee.objectstore.backends.s3 import S3Backend, make_client
    from mallee.registry import properties

    def prop(name: str) -> str:
        return properties.get_str(store, f"objectstorage.s3provider.{name}")

    endpoint, access_key, secret_key = prop("s3endpoint"), prop("s3accesskey"), prop("s3secretkey")
    if not (endpoint and access_key and secret_key):
        raise BackendNotConfigured(
            "objectstorage.providerclient is s3 but objectstorage.s3provider.s3endpoint, "
            "s3accesskey and s3secretkey are not all set"
        )
    if "://" not in endpoint:
        https = properties.get_bool(store, "objectstorage.s3provider.s3usehttps")
        endpoint = ("https://" if https else "http://") + endpoint
    region, bucket = prop("region"), prop("bucket")
    key = (endpoint, access_key, secret_key, region, bucket)
    with _S3_LOCK:
        found = _S3_BACKENDS.get(key)
        if found is None:
            backend = S3Backend(make_client(endpoint, access_key, secret_key, region), bucket)
            backend.ensure_bucket(region)
            found = _S3_BACKENDS[key] = backend
    return found
