"""A small, strict multipart/form-data parser (RFC 7578) for the console's upload form.

The whole body is already in memory and capped by the server, so this only has to split it
safely: a bounded number of parts, bounded part headers, and file names reduced to a base name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser

MAX_PARTS = 32
MAX_HEADER_BYTES = 4096
# RFC 2046: 1 to 70 characters from this set, not ending in a space.
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class FormData:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def boundary_of(content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        raise MultipartError("not multipart/form-data")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not _BOUNDARY.match(boundary):
        raise MultipartError("missing or invalid boundary")
    return boundary


def parse(body: bytes, content_type: str) -> FormData:
    out = FormData()
    for part in _split(body, boundary_of(content_type).encode("ascii")):
        _add_part(out, part)
    return out


def _split(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between the delimiters. The boundary followed by anything but optional
    whitespace and a line end (or the closing "--") is data, not a delimiter."""
    dash = b"--" + boundary
    start = _delimiter_end(body, len(dash)) if body.startswith(dash) else None
    if start is None:
        raise MultipartError("the body does not start with the boundary")
    parts: list[bytes] = []
    search = start
    while True:
        found = body.find(b"\r\n" + dash, search)
        if found < 0:
            raise MultipartError("the closing boundary is missing")
        after = found + 2 + len(dash)
        search = after
        closing = body[after : after + 2] == b"--"
        next_start = None if closing else _delimiter_end(body, after)
        if not closing and next_start is None:
            continue  # the boundary's text inside the data
        parts.append(body[start:found])
        if len(parts) > MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} parts")
        if next_start is None:
            return parts
        start = next_start


def _delimiter_end(body: bytes, at: int) -> int | None:
    """Where the part after a delimiter ending at `at` starts (past blanks and the CRLF)."""
    while body[at : at + 1] in (b" ", b"\t"):
        at += 1
    return at + 2 if body[at : at + 2] == b"\r\n" else None


def _add_part(out: FormData, part: bytes) -> None:
    head, sep, data = part.partition(b"\r\n\r\n")
    if not sep:
        if part.startswith(b"\r\n"):  # a part with no headers at all
            raise MultipartError("a part has no Content-Disposition")
        raise MultipartError("a part's headers do not end")
    if len(head) > MAX_HEADER_BYTES:
        raise MultipartError("a part's headers are too long")
    headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
    if headers.get_content_disposition() != "form-data":
        raise MultipartError("a part is not form-data")
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise MultipartError("a part has no name")
    filename = headers.get_filename()
    if filename is None:
        try:
            out.fields[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MultipartError(f"field {name!r} is not UTF-8") from None
        return
    out.files[name] = Upload(
        filename=_base_name(filename),
        content_type=headers.get_content_type() if headers.get("content-type") else "",
        data=data,
    )


def _base_name(filename: str) -> str:
    # Some browsers send the full client-side path (C:\Users\...\file.txt).
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
