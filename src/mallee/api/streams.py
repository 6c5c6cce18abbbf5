"""Request bodies read as they arrive, checked against what the signature promised.

An S3 upload's bytes reach the backend only through `VerifiedStream`: it passes the raw body
through the request's PayloadReader (which decodes aws-chunked framing and verifies chunk
signatures or the declared SHA-256) and raises once the body proves bad. The hash of a plain
signed body is only known at its end, so whoever stores the data must make it visible only
after `read` has returned b"" without raising (write to a temporary place, then commit).
"""

from __future__ import annotations

from mallee.api.auth.common import PayloadReader
from mallee.api.errors import ServiceError
from mallee.api.http import BodyStream

PIECE = 1 << 20


def incomplete() -> ServiceError:
    return ServiceError(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
    )


class VerifiedStream:
    def __init__(
        self, raw: BodyStream, reader: PayloadReader | None, expected_length: int | None
    ) -> None:
        self._raw = raw
        self._reader = reader
        self._expected = expected_length
        self._received = 0
        self._pending = bytearray()
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            self._pull()
        if size < 0 or size >= len(self._pending):
            out = bytes(self._pending)
            self._pending.clear()
            return out
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out

    def _pull(self) -> None:
        try:
            raw = self._raw.read(PIECE)
        except ServiceError:  # the body stalled (RequestTimeout): said as it is
            raise
        except Exception as err:  # the client went away mid-body
            raise incomplete() from err
        if raw:
            self._received += len(raw)
            self._pending += self._reader.feed(raw) if self._reader else raw
            return
        if self._expected is not None and self._received != self._expected:
            raise incomplete()
        if self._reader is not None:
            self._reader.finish()
        self._done = True


def read_all(stream: BodyStream, limit: int) -> bytes:
    """A whole (small) body, for operations whose payload is an XML document."""
    pieces: list[bytes] = []
    size = 0
    while piece := stream.read(PIECE):
        size += len(piece)
        if size > limit:
            raise ServiceError("MaxMessageLengthExceeded", "Your request was too big.", 400)
        pieces.append(piece)
    return b"".join(pieces)
