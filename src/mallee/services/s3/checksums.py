"""The flexible checksums of an upload (x-amz-checksum-*): computed as the body streams,
compared with what the client sent, and returned as S3 returns them (base64)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from mallee.api.auth.streaming import Crc32, Digest
from mallee.api.context import RequestContext
from mallee.services.s3 import errors

_MAKERS: dict[str, Any] = {
    "ChecksumCRC32": Crc32,
    "ChecksumSHA1": lambda: hashlib.sha1(usedforsecurity=False),
    "ChecksumSHA256": hashlib.sha256,
}
_UNSUPPORTED = ("ChecksumCRC32C", "ChecksumCRC64NVME")


class Checksums:
    def __init__(self, wanted: dict[str, str]) -> None:
        self.wanted = wanted
        self.digests: dict[str, Digest] = {name: _MAKERS[name]() for name in wanted}

    @classmethod
    def requested(cls, params: dict[str, Any]) -> Checksums:
        for name in _UNSUPPORTED:
            if params.get(name):
                raise errors.invalid_request(
                    f"The {name.removeprefix('Checksum')} checksum algorithm is not supported"
                )
        return cls({name: str(params[name]) for name in _MAKERS if params.get(name)})

    def watch(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            for digest in self.digests.values():
                digest.update(piece)
            yield piece

    def verify(self) -> None:
        for name, digest in self.digests.items():
            if base64.b64encode(digest.digest()).decode() != self.wanted[name]:
                header = "x-amz-checksum-" + name.removeprefix("Checksum").lower()
                raise errors.checksum_mismatch(header)

    def output(self) -> dict[str, str]:
        return dict(self.wanted)


def content_md5(value: Any) -> str | None:
    """The hex MD5 a Content-MD5 header promises; InvalidDigest when it is not one."""
    if value is None:
        return None
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as err:
        raise errors.invalid_digest() from err
    if len(raw) != 16:
        raise errors.invalid_digest()
    return raw.hex()


def check_body_md5(ctx: RequestContext, value: Any) -> None:
    """A Content-MD5 sent with a (configuration) body must be the MD5 of the body as received."""
    expected = content_md5(value)
    if (
        expected is not None
        and expected != hashlib.md5(ctx.http.body, usedforsecurity=False).hexdigest()
    ):
        raise errors.bad_digest()
