"""The streaming multipart/form-data reader of browser POST uploads."""

from __future__ import annotations

import io
import itertools
import os

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.form_data import MAX_PRE_DATA, FormDataReader, boundary_of

pytestmark = pytest.mark.nodb

BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


class Trickle:
    """A body handed out a few bytes at a time, as a slow client sends it."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


def body(fields: list[tuple[str, str]], file: bytes | None, *, after: str = "") -> bytes:
    out = [b"preamble to ignore\r\n"]
    for name, value in fields:
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    if file is not None:
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a b.txt"'
            "\r\nContent-Type: text/plain\r\n\r\n".encode()
            + file
            + b"\r\n"
        )
    out.append(after.encode())
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def test_boundary_of() -> None:
    assert boundary_of(f"multipart/form-data; boundary={BOUNDARY}") == BOUNDARY
    assert boundary_of('multipart/form-data; boundary="a b"') == "a b"
    assert boundary_of("multipart/form-data") is None
    assert boundary_of("application/x-www-form-urlencoded; boundary=x") is None


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_fields_then_file_in_any_pieces(step: int) -> None:
    data = os.urandom(70_000) + f"\r\n--{BOUNDARY[:-1]}".encode() + b"\r\n--"
    raw = body([("key", "up/${filename}"), ("Policy", "abc"), ("x-amz-meta-a", "é")], data)
    reader = FormDataReader(Trickle(raw, step), BOUNDARY)
    form = reader.read_form()
    assert form.fields == {"key": "up/${filename}", "policy": "abc", "x-amz-meta-a": "é"}
    assert form.spelled["policy"] == "Policy"
    assert form.file is not None
    assert form.file.filename == "a b.txt" and form.file.content_type == "text/plain"
    assert b"".join(form.file.pieces) == data
    reader.drain()


def test_fields_after_the_file_are_dropped() -> None:
    raw = body([("key", "k")], b"data", after=f"--{BOUNDARY}\r\nContent-Disposition: "
               'form-data; name="late"\r\n\r\nx\r\n')  # fmt: skip
    reader = FormDataReader(io.BytesIO(raw), BOUNDARY)
    form = reader.read_form()
    assert form.file is not None and b"".join(form.file.pieces) == b"data"
    reader.drain()
    assert "late" not in form.fields


def test_no_file() -> None:
    form = FormDataReader(io.BytesIO(body([("key", "k")], None)), BOUNDARY).read_form()
    assert form.file is None and form.fields == {"key": "k"}


def test_empty_file() -> None:
    form = FormDataReader(io.BytesIO(body([("key", "k")], b"")), BOUNDARY).read_form()
    assert form.file is not None and b"".join(form.file.pieces) == b""


def test_truncated_file_fails_at_the_end() -> None:
    raw = body([("key", "k")], b"x" * 5000)
    cut = raw[: raw.index(b"x" * 5000) + 3000]
    form = FormDataReader(io.BytesIO(cut), BOUNDARY).read_form()
    assert form.file is not None
    with pytest.raises(ServiceError) as err:
        b"".join(form.file.pieces)
    assert err.value.code == "MalformedPOSTRequest"


@pytest.mark.parametrize(
    "raw",
    [
        b"no boundary at all",
        f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--".encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n".encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated".encode(),
        f"--{BOUNDARY}junk\r\n".encode(),
    ],
)
def test_malformed(raw: bytes) -> None:
    with pytest.raises(ServiceError) as err:
        FormDataReader(io.BytesIO(raw), BOUNDARY).read_form()
    assert err.value.code == "MalformedPOSTRequest"


def test_pre_data_is_capped() -> None:
    raw = body([("key", "k"), ("x-amz-meta-big", "v" * (MAX_PRE_DATA + 1))], b"x")
    with pytest.raises(ServiceError) as err:
        FormDataReader(io.BytesIO(raw), BOUNDARY).read_form()
    assert err.value.code == "MaxPostPreDataLengthExceeded"
    many = [(f"f{i}", "v" * 100) for i in range(MAX_PRE_DATA // 100 + 1)]
    with pytest.raises(ServiceError):
        FormDataReader(io.BytesIO(body(many, b"x")), BOUNDARY).read_form()


def test_file_streams_in_bounded_pieces() -> None:
    """A large file is handed out piece by piece, never whole."""
    size = 5 << 20
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    class Generated:
        def __init__(self) -> None:
            chunks = itertools.chain([head], itertools.repeat(b"z" * 65536, size // 65536), [tail])
            self._chunks = chunks

        def read(self, size: int = -1) -> bytes:
            return next(self._chunks, b"")

    form = FormDataReader(Generated(), BOUNDARY).read_form()
    assert form.file is not None
    total = 0
    for piece in form.file.pieces:
        assert len(piece) <= (1 << 20) + 100
        total += len(piece)
    assert total == size


def test_drain_after_a_refusal_is_bounded_and_quiet() -> None:
    raw = body([("key", "k")], b"x" * (3 << 20))
    reader = FormDataReader(io.BytesIO(raw), BOUNDARY)
    reader.read_form()
    reader.drain(quiet=True)  # more than the cap is left: stops without raising
    with pytest.raises(ServiceError):
        FormDataReader(io.BytesIO(raw), BOUNDARY).drain()
