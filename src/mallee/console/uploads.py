"""Uploads through the console, streamed to the object store as they arrive.

python-multipart parses the body piece by piece; the fields before the file (the form token,
the bucket, the key) are collected, and the file's bytes go to S3 as they come: in one
PutObject when the file is small, else as the parts of a multipart upload. At most one part
(and the piece being parsed) is held, whatever the file's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mallee.console.context import BadRequest

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

T = TypeVar("T")
Run = Callable[[Callable[[], T]], Awaitable[T]]

# S3's parts are at least 5 MiB (but the last); larger parts mean fewer requests.
PART_SIZE = 8 * 1024 * 1024
MAX_FIELDS = 16
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 8 * 1024


class Sink(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...

    async def abort(self) -> None: ...


# Given the fields that came before the file, its name and its type: where it goes.
Opener = Callable[[dict[str, str], str, str], Awaitable[Sink]]


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)
    sink: Sink | None = None


@dataclass
class Received:
    fields: dict[str, str]
    # The file's name as sent (a base name) and its size; "" and 0 when none came.
    filename: str = ""
    size: int = 0
    # The file's part has ended (what follows it may still be refused).
    complete: bool = False
    parts: int = 0


class _Events:
    """python-multipart's callbacks, turned into a list of what each piece of body held."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, Any]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, str] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._bounded(self._field)

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._bounded(self._value)

    @staticmethod
    def _bounded(header: bytearray) -> None:
        if len(header) > MAX_HEADER_BYTES:
            raise BadRequest("a part of the form has a header too long")

    def _header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("utf-8", "replace").strip()
        self._field.clear()
        self._value.clear()
        if len(self._headers) > 8:
            raise BadRequest("a part of the form has too many headers")

    def _headers_finished(self) -> None:
        self.pending.append(("head", dict(self._headers)))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.pending.append(("data", bytes(data[start:end])))

    def _end(self) -> None:
        self.pending.append(("end", None))


def _base_name(filename: str) -> str:
    # Some browsers send the full client-side path (C:\Users\...\file.txt).
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


def _named(part: _Part) -> None:
    kind, params = parse_options_header(part.headers.get("content-disposition", ""))
    if kind != b"form-data" or not params.get(b"name"):
        raise BadRequest("a part of the form has no name")
    part.name = params[b"name"].decode("utf-8", "replace")
    if b"filename" in params:
        part.filename = _base_name(params[b"filename"].decode("utf-8", "replace"))


async def receive(content_type: str, body: AsyncIterator[bytes], open_file: Opener) -> Received:
    """Read a multipart/form-data body: its fields, and its one file (the part named "file")
    written to the sink `open_file` gives. The sink is aborted if the body fails."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("the upload is not multipart/form-data")
    events = _Events()
    parser = MultipartParser(boundary, events.callbacks())
    out = Received({})
    part = _Part()
    sink: Sink | None = None
    try:
        async for chunk in body:
            try:
                parser.write(chunk)
            except MultipartParseError as bad:
                raise BadRequest(f"the upload is not well-formed: {bad}") from None
            for event, value in events.pending:
                part, sink = await _apply(event, value, part, sink, out, open_file)
            events.pending.clear()
        parser.finalize()
        if sink is not None:
            # Only a whole, well-formed body makes an object: not one that ended inside the
            # file, nor one whose later parts were refused.
            if not out.complete:
                raise BadRequest("the upload ended before the file did")
            await sink.close()
    except BaseException:
        if sink is not None:
            await sink.abort()
        raise
    return out


async def _apply(
    event: str, value: Any, part: _Part, sink: Sink | None, out: Received, open_file: Opener
) -> tuple[_Part, Sink | None]:
    if event == "head":
        part = _Part(headers=value)
        _named(part)
        if part.filename is not None and part.name == "file":
            if out.filename:
                raise BadRequest("one file at a time")
            if not part.filename:
                raise BadRequest("choose a file to upload")
            out.filename = part.filename
            sink = await open_file(out.fields, part.filename, part.headers.get("content-type", ""))
        else:
            out.parts += 1
            if out.parts > MAX_FIELDS:
                raise BadRequest("the form has too many fields")
    elif event == "data":
        if sink is not None and part.name == "file" and part.filename:
            out.size += len(value)
            await sink.write(value)
        elif part.filename is None:
            part.value += value
            if len(part.value) > MAX_FIELD_BYTES:
                raise BadRequest(f"the field {part.name!r} is too long")
    elif event == "end":
        if sink is not None and part.name == "file" and part.filename:
            out.complete = True
        elif part.filename is None:
            try:
                out.fields[part.name] = part.value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"the field {part.name!r} is not UTF-8") from None
    return part, sink


class ObjectWriter:
    """An object written to S3 as its bytes come: PutObject for a small one, else a multipart
    upload, one part held at a time. Calls run through `run` (off the event loop)."""

    def __init__(self, s3: Any, bucket: str, key: str, content_type: str, run: Run[Any]) -> None:
        self._s3, self._run = s3, run
        self._target = {"Bucket": bucket, "Key": key}
        self._type = content_type or "application/octet-stream"
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    async def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= PART_SIZE:
            await self._send_part()

    async def _send_part(self) -> None:
        s3, target = self._s3, self._target
        if self._upload_id is None:
            made = await self._run(
                lambda: s3.create_multipart_upload(**target, ContentType=self._type)
            )
            self._upload_id = str(made["UploadId"])
        body, self._buffer = self._buffer, bytearray()
        number, upload_id = len(self._parts) + 1, self._upload_id
        sent = await self._run(
            lambda: s3.upload_part(**target, UploadId=upload_id, PartNumber=number, Body=body)
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    async def close(self) -> None:
        s3, target = self._s3, self._target
        if self._upload_id is None:
            body = self._buffer
            await self._run(lambda: s3.put_object(**target, Body=body, ContentType=self._type))
            return
        if self._buffer:
            await self._send_part()
        upload = {"UploadId": self._upload_id, "MultipartUpload": {"Parts": self._parts}}
        await self._run(lambda: s3.complete_multipart_upload(**target, **upload))
        self._upload_id = None

    async def abort(self) -> None:
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        s3, target = self._s3, self._target
        # Should this fail too, the parts are left to the bucket's lifecycle rules: the upload
        # has failed either way, and the browser is told why.
        with contextlib.suppress(Exception):
            await self._run(lambda: s3.abort_multipart_upload(**target, UploadId=upload_id))
