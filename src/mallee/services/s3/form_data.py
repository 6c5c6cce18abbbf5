"""A streaming multipart/form-data reader for browser POST uploads (RFC 7578).

The fields before the file are small and read into memory (capped, as S3 caps them); the file
part is handed out as an iterator of pieces read as the body arrives, so an upload of any size
passes through in bounded memory. Fields after the file are read and dropped, as S3 ignores
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message

from mallee.api.errors import ServiceError
from mallee.api.http import BodyStream
from mallee.services.s3 import errors

PIECE = 1 << 20
# What S3 accepts before the file: field values, plus their part headers.
MAX_PRE_DATA = 20 * 1024
MAX_PART_HEADERS = 8 * 1024
# What is read (and dropped) after the file before the request is given up as malformed.
MAX_TRAILER = 1 << 20


def boundary_of(content_type: str) -> str | None:
    """The boundary parameter of a multipart/form-data Content-Type header, if it is one."""
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        return None
    return boundary


@dataclass(slots=True)
class FormFile:
    """The file part: its field name, the browser's file name and type, and its data."""

    name: str
    filename: str
    content_type: str
    pieces: Iterator[bytes]


@dataclass(slots=True)
class Form:
    # Field name (lower-case: S3 matches form field names case-insensitively) -> value.
    fields: dict[str, str] = field(default_factory=dict)
    # The names as the client spelled them, in order (for error messages).
    spelled: dict[str, str] = field(default_factory=dict)
    file: FormFile | None = None


class FormDataReader:
    """Reads one multipart/form-data body from a stream, once, front to back."""

    def __init__(self, stream: BodyStream, boundary: str) -> None:
        self._stream = stream
        # The delimiter is CRLF "--" boundary; a body starts with the delimiter minus its CRLF,
        # so the buffer starts with a CRLF of its own to find the first one the same way.
        self._delimiter = b"\r\n--" + boundary.encode("latin-1")
        self._buffer = bytearray(b"\r\n")
        self._eof = False
        self._pre_data = 0

    def read_form(self, file_field: str = "file") -> Form:
        """Fields up to and including the file part (whose data is not read yet)."""
        form = Form()
        if not self._skip_to_delimiter():
            raise errors.malformed_post_request()
        while self._after_delimiter():
            name, filename, content_type = self._part_headers()
            if name.lower() == file_field:
                form.file = FormFile(name, filename or "", content_type, self._part_data())
                return form
            value = self._small_value()
            form.fields.setdefault(name.lower(), value)
            form.spelled.setdefault(name.lower(), name)
        return form

    def drain(self, *, quiet: bool = False) -> None:
        """Read what is left of the body (fields after the file, the closing delimiter) and
        drop it. `quiet`: after a refusal, stop silently at the cap or at a broken body."""
        dropped = 0
        try:
            while self._fill():
                dropped += len(self._buffer)
                self._buffer.clear()
                if dropped > MAX_TRAILER:
                    raise errors.malformed_post_request()
        except ServiceError:
            if not quiet:
                raise

    # -- the buffer ---------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read more of the body into the buffer; False at its end."""
        if self._eof:
            return False
        piece = self._stream.read(PIECE)
        if not piece:
            self._eof = True
            return False
        self._buffer += piece
        return True

    def _skip_to_delimiter(self) -> bool:
        """Drop the preamble and the first delimiter."""
        while True:
            found = self._buffer.find(self._delimiter)
            if found >= 0:
                del self._buffer[: found + len(self._delimiter)]
                return True
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                self._count_pre_data(len(self._buffer) - keep)
                del self._buffer[:-keep]
            if not self._fill():
                return False

    def _after_delimiter(self) -> bool:
        """True when a part follows the delimiter just consumed, False at the closing one."""
        while len(self._buffer) < 2:
            if not self._fill():
                raise errors.malformed_post_request()
        if self._buffer.startswith(b"--"):
            return False
        # Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                if self._buffer[:end].strip(b" \t"):
                    raise errors.malformed_post_request()
                del self._buffer[: end + 2]
                return True
            if len(self._buffer) > 256 or not self._fill():
                raise errors.malformed_post_request()

    def _count_pre_data(self, size: int) -> None:
        self._pre_data += size
        if self._pre_data > MAX_PRE_DATA:
            raise errors.max_post_pre_data_exceeded()

    def _part_headers(self) -> tuple[str, str | None, str]:
        """(field name, file name, content type) from the part's header block."""
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0 or (self._buffer.startswith(b"\r\n")):
                break
            if len(self._buffer) > MAX_PART_HEADERS or not self._fill():
                raise errors.malformed_post_request()
        if self._buffer.startswith(b"\r\n"):
            raise errors.malformed_post_request()  # a part without a Content-Disposition header
        block = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        self._count_pre_data(len(block))
        return _parse_part_headers(block.decode("utf-8", "replace"))

    def _small_value(self) -> str:
        """A field's whole value (up to the next delimiter), counted against the cap."""
        while True:
            found = self._buffer.find(self._delimiter)
            if found >= 0:
                value = bytes(self._buffer[:found])
                del self._buffer[: found + len(self._delimiter)]
                self._count_pre_data(len(value))
                return value.decode("utf-8", "replace")
            if len(self._buffer) > MAX_PRE_DATA - self._pre_data + len(self._delimiter):
                raise errors.max_post_pre_data_exceeded()
            if not self._fill():
                raise errors.malformed_post_request()

    def _part_data(self) -> Iterator[bytes]:
        """The current part's bytes in pieces, ending at the next delimiter (consumed).

        Raises MalformedPOSTRequest if the body ends first: an upload cut short stores nothing.
        """
        keep = len(self._delimiter) - 1
        while True:
            # The buffer holds at most one piece plus a tail: searching it whole stays cheap.
            found = self._buffer.find(self._delimiter)
            if found >= 0:
                if found:
                    yield bytes(self._buffer[:found])
                del self._buffer[: found + len(self._delimiter)]
                return
            # Everything but a tail that could be the start of the delimiter is file data.
            if len(self._buffer) > keep:
                out = bytes(self._buffer[:-keep])
                del self._buffer[:-keep]
                yield out
            if not self._fill():
                raise errors.malformed_post_request()


def _parse_part_headers(block: str) -> tuple[str, str | None, str]:
    name: str | None = None
    filename: str | None = None
    content_type = ""
    for line in block.split("\r\n"):
        header, sep, value = line.partition(":")
        if not sep:
            raise errors.malformed_post_request()
        header = header.strip().lower()
        if header == "content-type":
            content_type = value.strip()
        elif header == "content-disposition":
            name, filename = _disposition(value)
    if name is None:
        raise errors.malformed_post_request()
    return name, filename, content_type


def _disposition(value: str) -> tuple[str | None, str | None]:
    """name and filename of `form-data; name="..."; filename="..."`."""
    message = Message()
    message["content-disposition"] = value
    if message.get_content_disposition() != "form-data":
        raise errors.malformed_post_request()
    name = message.get_param("name", header="content-disposition")
    filename = message.get_param("filename", header="content-disposition")
    return (
        name if isinstance(name, str) else None,
        filename if isinstance(filename, str) else None,
    )
