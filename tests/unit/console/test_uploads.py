"""Uploads streamed through python-multipart to a sink: fields first, then the file's bytes
as they arrive, never a whole body held; malformed bodies store nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mallee.console import uploads
from mallee.console.context import BadRequest
from mallee.console.uploads import MAX_FIELDS, ObjectWriter, Received, receive

pytestmark = pytest.mark.nodb

CT = "multipart/form-data; boundary=XyZ"


def body(*parts: bytes, boundary: bytes = b"XyZ") -> bytes:
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + b"--" + boundary + b"--\r\n"


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = self.aborted = False
        self.writes = 0

    async def write(self, data: bytes) -> None:
        self.data += data
        self.writes += 1

    async def close(self) -> None:
        self.closed = True

    async def abort(self) -> None:
        self.aborted = True


async def _pieces(raw: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(raw), size):
        yield raw[at : at + size]


def run(raw: bytes, content_type: str = CT, piece: int = 7) -> tuple[Received, list[Any]]:
    opened: list[Any] = []

    async def open_file(fields: dict[str, str], name: str, kind: str) -> uploads.Sink:
        sink = Sink()
        opened.append((dict(fields), name, kind, sink))
        return sink

    received = asyncio.run(receive(content_type, _pieces(raw, piece), open_file))
    return received, opened


FILE = b"\x00\r\n--XyZ-not-a-boundary\r\nbinary\xff" * 50


def test_fields_then_the_file_streamed() -> None:
    received, [(fields, name, kind, sink)] = run(
        body(
            b'Content-Disposition: form-data; name="bucket"\r\n\r\nmy-bucket',
            b'Content-Disposition: form-data; name="note"\r\n\r\nh\xc3\xa9llo',
            b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            b"Content-Type: application/x-thing\r\n\r\n" + FILE,
        )
    )
    # The sink is opened knowing the fields sent before the file (the form token among them).
    assert fields == {"bucket": "my-bucket", "note": "héllo"}
    assert (name, kind) == ("a.bin", "application/x-thing")
    assert bytes(sink.data) == FILE and sink.closed and not sink.aborted
    assert sink.writes > 10  # piece by piece, as the body came
    assert (received.filename, received.size) == ("a.bin", len(FILE))


def test_empty_values_and_no_file() -> None:
    received, opened = run(body(b'Content-Disposition: form-data; name="a"\r\n\r\n'))
    assert received.fields == {"a": ""} and received.filename == "" and opened == []


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("dir/name with spaces.txt", "name with spaces.txt"),
    ],
)
def test_file_names_are_reduced_to_base_names(sent: str, kept: str) -> None:
    head = f'Content-Disposition: form-data; name="file"; filename="{sent}"\r\n\r\n'.encode()
    _, [(_, name, _, _)] = run(body(head + b"x"))
    assert name == kept


def test_quoted_boundary() -> None:
    received, _ = run(
        body(b'Content-Disposition: form-data; name="a"\r\n\r\n1', boundary=b"a b'c"),
        'multipart/form-data; boundary="a b\'c"',
    )
    assert received.fields == {"a": "1"}


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data", "multipart/mixed; boundary=XyZ"],
)
def test_bad_content_types(content_type: str) -> None:
    with pytest.raises(BadRequest):
        run(body(b'Content-Disposition: form-data; name="a"\r\n\r\n1'), content_type)


FILE_HEAD = b'Content-Disposition: form-data; name="file"; filename="f"\r\n\r\n'


@pytest.mark.parametrize(
    "raw",
    [
        b"--XyZ\r\n" + FILE_HEAD + b"data never closed",
        body(b"Content-Disposition: form-data\r\n\r\nno name"),
        body(b'Content-Disposition: attachment; name="a"\r\n\r\n1'),
        body(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff\xfe'),  # field not UTF-8
        body(b"X-Long: " + b"a" * 9000 + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n'),
        body(b'Content-Disposition: form-data; name="a"\r\n\r\n' + b"v" * (70 * 1024)),
        body(FILE_HEAD + b"1", FILE_HEAD + b"2"),  # one file at a time
        body(b'Content-Disposition: form-data; name="file"; filename=""\r\n\r\nx'),
    ],
)
def test_malformed_bodies_store_nothing(raw: bytes) -> None:
    opened: list[Sink] = []

    async def open_file(fields: dict[str, str], name: str, kind: str) -> uploads.Sink:
        opened.append(Sink())
        return opened[-1]

    with pytest.raises(BadRequest):
        asyncio.run(receive(CT, _pieces(raw, 1024), open_file))
    # A file begun is aborted: never an object made of part of a body.
    assert all(s.aborted and not s.closed for s in opened)


def test_field_count_is_capped() -> None:
    part = b'Content-Disposition: form-data; name="a"\r\n\r\n1'
    assert run(body(*[part] * MAX_FIELDS))[0].fields == {"a": "1"}
    with pytest.raises(BadRequest):
        run(body(*[part] * (MAX_FIELDS + 1)))


class FakeS3:
    def __init__(self, fail_on_part: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on_part = fail_on_part
        self.largest = 0

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append((name, params))
            if "Body" in params:
                self.largest = max(self.largest, len(params["Body"]))
            if name == "upload_part" and params["PartNumber"] == self.fail_on_part:
                raise RuntimeError("the part failed")
            return {"UploadId": "u1", "ETag": f'"{params.get("PartNumber", 0)}"'}

        return call


async def _direct(work: Callable[[], Any]) -> Any:
    return work()


def _write(s3: FakeS3, sizes: list[int]) -> None:
    async def go() -> None:
        writer = ObjectWriter(s3, "b", "k", "", _direct)
        try:
            for size in sizes:
                await writer.write(b"x" * size)
            await writer.close()
        except BaseException:
            await writer.abort()
            raise

    asyncio.run(go())


def test_a_small_object_is_one_put() -> None:
    s3 = FakeS3()
    _write(s3, [1000, 2000])
    [(name, params)] = s3.calls
    assert name == "put_object" and len(params["Body"]) == 3000
    assert params["ContentType"] == "application/octet-stream"


def test_a_large_object_is_a_multipart_upload_one_part_held() -> None:
    s3 = FakeS3()
    piece = 64 * 1024
    total = 2 * uploads.PART_SIZE + 12345
    _write(s3, [piece] * (total // piece) + [total % piece])
    names = [name for name, _ in s3.calls]
    assert names == [
        "create_multipart_upload",
        "upload_part",
        "upload_part",
        "upload_part",
        "complete_multipart_upload",
    ]
    parts = s3.calls[-1][1]["MultipartUpload"]["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3]
    assert sum(len(p["Body"]) for n, p in s3.calls if n == "upload_part") == total
    assert s3.largest < uploads.PART_SIZE + piece


def test_a_failed_part_aborts_the_upload() -> None:
    s3 = FakeS3(fail_on_part=2)
    with pytest.raises(RuntimeError):
        _write(s3, [uploads.PART_SIZE] * 3)
    assert s3.calls[-1][0] == "abort_multipart_upload"
    assert "complete_multipart_upload" not in [name for name, _ in s3.calls]
