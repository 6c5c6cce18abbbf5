"""Incremental decoding and verification of S3 `aws-chunked` request bodies.

Body format (each chunk): `<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`, ended by a chunk
of size 0, then (trailer modes) `name:value\\r\\n` lines and an empty line. In the signed modes
each chunk's signature chains from the previous one, starting at the seed signature of the
request itself, so chunks can be neither altered, reordered, dropped nor appended.

Signed chunks are returned by `feed` only once their signature has checked out, so a caller
that stores what `feed` returns never stores unverified data (at the cost of holding one chunk
in memory; clients use 8 KiB to a few MiB).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Sequence
from typing import Literal, Protocol

from mallee.api.auth.errors import AuthError, Failure, Style
from mallee.api.auth.signing import EMPTY_SHA256, same, sign_hex

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

Mode = Literal["signed", "signed-trailer", "unsigned-trailer"]
MODES: dict[str, Mode] = {
    STREAMING_SIGNED: "signed",
    STREAMING_SIGNED_TRAILER: "signed-trailer",
    STREAMING_UNSIGNED_TRAILER: "unsigned-trailer",
}

_MAX_LINE = 4096
_SIG_PREFIX = "chunk-signature="
_TRAILER_SIG = "x-amz-trailer-signature"


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class Crc32:
    """zlib's CRC32 behind the hashlib interface (x-amz-checksum-crc32 is big-endian)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _checksum_for(name: str) -> Digest | None:
    """A running checksum for a trailer header we can verify without extra packages."""
    if name == "x-amz-checksum-crc32":
        return Crc32()
    if name == "x-amz-checksum-sha1":
        return hashlib.sha1(usedforsecurity=False)
    if name == "x-amz-checksum-sha256":
        return hashlib.sha256()
    return None


class ChunkSigner:
    """The chain of chunk signatures: what the client computes, and what we recompute."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed_signature: str) -> None:
        self._prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n"
        self._trailer_prefix = f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n"
        self._key = key
        self.previous = seed_signature

    def chunk(self, data_sha256: str) -> str:
        sts = f"{self._prefix}{self.previous}\n{EMPTY_SHA256}\n{data_sha256}"
        return sign_hex(self._key, sts)

    def trailer(self, trailer_sha256: str) -> str:
        return sign_hex(self._key, f"{self._trailer_prefix}{self.previous}\n{trailer_sha256}")


class ChunkedPayloadDecoder:
    """Decode an aws-chunked body fed in arbitrary pieces, verifying it as it goes.

    `signer` is required for the signed modes. `trailer_names` are the names declared in the
    x-amz-trailer header; `decoded_length` is x-amz-decoded-content-length, if sent.
    Checksum trailers for CRC32, SHA1 and SHA256 are verified; others (CRC32C, CRC64NVME need
    native code) are only collected in `trailers` for the caller to store or check.
    """

    def __init__(
        self,
        mode: Mode,
        *,
        style: Style = "s3",
        signer: ChunkSigner | None = None,
        decoded_length: int | None = None,
        trailer_names: Sequence[str] = (),
        max_chunk_size: int = 64 * 1024 * 1024,
    ) -> None:
        if mode != "unsigned-trailer" and signer is None:
            raise ValueError("signed aws-chunked decoding needs a ChunkSigner")
        self.mode: Mode = mode
        self.trailers: dict[str, str] = {}
        self.verified_checksums: list[str] = []
        self.decoded_bytes = 0
        self._style: Style = style
        self._signer = signer
        self._decoded_length = decoded_length
        self._declared = [n.strip().lower() for n in trailer_names if n.strip()]
        self._checksums = {n: c for n in self._declared if (c := _checksum_for(n)) is not None}
        self._max_chunk = max_chunk_size
        self._buf = bytearray()
        self._state = "header"
        self._remaining = 0
        self._chunk_sig = ""
        self._chunk_parts: list[bytes] = []
        self._chunk_hash = hashlib.sha256()
        self._trailer_lines: list[str] = []
        self._trailer_sig: str | None = None
        self._error: AuthError | None = None

    @property
    def done(self) -> bool:
        return self._state == "done"

    def feed(self, data: bytes) -> bytes:
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except AuthError as exc:
            self._error = exc
            raise

    def finish(self) -> None:
        if self._error is not None:
            raise self._error
        if self._state != "done":
            self._error = self._fail(
                Failure.STREAM_INCOMPLETE,
                "The aws-chunked body ended before its final zero-length chunk.",
            )
            raise self._error
        try:
            self._check_totals()
        except AuthError as exc:
            self._error = exc
            raise

    def decode_all(self, body: bytes) -> bytes:
        """Convenience for a fully buffered body: feed it whole and finish."""
        out = self.feed(body)
        self.finish()
        return out

    def _fail(self, failure: Failure, message: str | None = None) -> AuthError:
        return AuthError(failure, self._style, message)

    def _feed(self, data: bytes) -> bytes:
        if self._state == "done":
            if data:
                raise self._fail(Failure.STREAM_INCOMPLETE, "Data after the final chunk.")
            return b""
        self._buf += data
        out: list[bytes] = []
        while self._step(out):
            pass
        return b"".join(out)

    def _step(self, out: list[bytes]) -> bool:
        """Advance the state machine once; False when more input is needed."""
        state = self._state
        if state == "header":
            return self._read_header()
        if state == "data":
            return self._read_data(out)
        if state == "data-end":
            return self._read_data_end(out)
        if state == "final-crlf":
            return self._read_final_crlf()
        if state == "trailer":
            return self._read_trailer_line()
        return False

    def _take_line(self) -> str | None:
        idx = self._buf.find(b"\r\n")
        if idx < 0:
            if len(self._buf) > _MAX_LINE:
                raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed aws-chunked line.")
            return None
        if idx > _MAX_LINE:
            raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed aws-chunked line.")
        line = bytes(self._buf[:idx])
        del self._buf[: idx + 2]
        try:
            return line.decode("ascii")
        except UnicodeDecodeError:
            raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed aws-chunked line.") from None

    def _read_header(self) -> bool:
        line = self._take_line()
        if line is None:
            return False
        size_text, _, ext = line.partition(";")
        size_text = size_text.strip()
        if not size_text or len(size_text) > 16 or not _is_hex(size_text):
            raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed aws-chunked chunk size.")
        size = int(size_text, 16)
        if size > self._max_chunk:
            raise self._fail(Failure.STREAM_INCOMPLETE, "aws-chunked chunk too large.")
        if self._signer is not None:
            ext = ext.strip()
            if not ext.startswith(_SIG_PREFIX):
                raise self._fail(Failure.BAD_SIGNATURE, "Chunk signature missing.")
            self._chunk_sig = ext[len(_SIG_PREFIX) :]
        self._remaining = size
        self._chunk_parts = []
        self._chunk_hash = hashlib.sha256()
        if size == 0:
            self._verify_chunk()
            self._state = "final-crlf" if self.mode == "signed" else "trailer"
        else:
            self._state = "data"
        return True

    def _read_data(self, out: list[bytes]) -> bool:
        if not self._buf:
            return False
        take = min(self._remaining, len(self._buf))
        piece = bytes(self._buf[:take])
        del self._buf[:take]
        self._remaining -= take
        self._count(piece)
        if self._signer is None:
            out.append(piece)
        else:
            self._chunk_hash.update(piece)
            self._chunk_parts.append(piece)
        if self._remaining == 0:
            self._state = "data-end"
        return True

    def _read_data_end(self, out: list[bytes]) -> bool:
        if len(self._buf) < 2:
            return False
        if self._buf[:2] != b"\r\n":
            raise self._fail(Failure.STREAM_INCOMPLETE, "aws-chunked chunk longer than its size.")
        del self._buf[:2]
        if self._signer is not None:
            self._verify_chunk()
            out.extend(self._chunk_parts)
            self._chunk_parts = []
        self._state = "header"
        return True

    def _read_final_crlf(self) -> bool:
        if len(self._buf) < 2:
            return False
        if self._buf[:2] != b"\r\n":
            raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed end of aws-chunked body.")
        del self._buf[:2]
        self._finish_body()
        return False

    def _read_trailer_line(self) -> bool:
        line = self._take_line()
        if line is None:
            return False
        if line == "":
            self._verify_trailer()
            self._finish_body()
            return False
        name, sep, value = line.partition(":")
        if not sep:
            raise self._fail(Failure.STREAM_INCOMPLETE, "Malformed aws-chunked trailer.")
        name = name.strip().lower()
        if name == _TRAILER_SIG and self.mode == "signed-trailer":
            self._trailer_sig = value.strip()
        else:
            self.trailers[name] = value.strip()
            self._trailer_lines.append(f"{name}:{value.strip()}\n")
        return True

    def _finish_body(self) -> None:
        self._state = "done"
        if self._buf:
            raise self._fail(Failure.STREAM_INCOMPLETE, "Data after the final chunk.")

    def _count(self, piece: bytes) -> None:
        self.decoded_bytes += len(piece)
        if self._decoded_length is not None and self.decoded_bytes > self._decoded_length:
            raise self._fail(
                Failure.STREAM_INCOMPLETE,
                "The aws-chunked body is longer than x-amz-decoded-content-length.",
            )
        for checksum in self._checksums.values():
            checksum.update(piece)

    def _verify_chunk(self) -> None:
        signer = self._signer
        if signer is None:
            return
        expected = signer.chunk(self._chunk_hash.hexdigest())
        if not same(expected, self._chunk_sig):
            raise self._fail(Failure.BAD_SIGNATURE)
        signer.previous = self._chunk_sig

    def _verify_trailer(self) -> None:
        if self.mode != "signed-trailer" or self._signer is None:
            return
        if self._trailer_sig is None:
            raise self._fail(Failure.BAD_SIGNATURE, "Trailer signature missing.")
        digest = hashlib.sha256("".join(self._trailer_lines).encode()).hexdigest()
        if not same(self._signer.trailer(digest), self._trailer_sig):
            raise self._fail(Failure.BAD_SIGNATURE)

    def _check_totals(self) -> None:
        if self._decoded_length is not None and self.decoded_bytes != self._decoded_length:
            raise self._fail(
                Failure.STREAM_INCOMPLETE,
                "You did not provide the number of bytes"
                " specified by the x-amz-decoded-content-length HTTP header.",
            )
        for name in self._declared:
            if name not in self.trailers:
                raise self._fail(
                    Failure.STREAM_INCOMPLETE,
                    f"The trailer {name} was declared in x-amz-trailer but not sent.",
                )
        for name, checksum in self._checksums.items():
            sent = self.trailers[name]
            if base64.b64encode(checksum.digest()).decode() != sent:
                algorithm = name.removeprefix("x-amz-checksum-").upper()
                raise self._fail(
                    Failure.CHECKSUM_MISMATCH,
                    f"The {algorithm} you specified did not match the calculated checksum.",
                )
            self.verified_checksums.append(name)


class PayloadHashVerifier:
    """Checks a streamed body against the hex SHA-256 declared in x-amz-content-sha256."""

    def __init__(self, expected_hex: str, *, style: Style = "s3") -> None:
        self._expected = expected_hex.lower()
        self._hash = hashlib.sha256()
        self._style: Style = style

    def feed(self, data: bytes) -> bytes:
        self._hash.update(data)
        return data

    def finish(self) -> None:
        if not same(self._expected, self._hash.hexdigest()):
            raise AuthError(Failure.CONTENT_SHA256_MISMATCH, self._style)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
