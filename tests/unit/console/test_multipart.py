"""The console's multipart/form-data parser."""

from __future__ import annotations

import pytest

from mallee.console.multipart import MAX_PARTS, MultipartError, boundary_of, parse

pytestmark = pytest.mark.nodb

CT = "multipart/form-data; boundary=XyZ"


def body(*parts: bytes, boundary: bytes = b"XyZ") -> bytes:
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + b"--" + boundary + b"--\r\n"


def test_fields_and_files() -> None:
    data = b"\x00\r\n--XyZ-not-a-boundary\r\nbinary\xff"
    form = parse(
        body(
            b'Content-Disposition: form-data; name="bucket"\r\n\r\nmy-bucket',
            b'Content-Disposition: form-data; name="note"\r\n\r\nh\xc3\xa9llo',
            b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            b"Content-Type: application/x-thing\r\n\r\n" + data,
        ),
        CT,
    )
    assert form.fields == {"bucket": "my-bucket", "note": "héllo"}
    upload = form.files["file"]
    assert (upload.filename, upload.content_type, upload.data) == (
        "a.bin",
        "application/x-thing",
        data,
    )


def test_empty_values_and_files() -> None:
    form = parse(
        body(
            b'Content-Disposition: form-data; name="key"\r\n\r\n',
            b'Content-Disposition: form-data; name="file"; filename=""\r\n\r\n',
        ),
        CT,
    )
    assert form.fields == {"key": ""}
    assert form.files["file"].filename == "" and form.files["file"].data == b""
    assert form.files["file"].content_type == ""


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("dir/name with spaces.txt", "name with spaces.txt"),
    ],
)
def test_file_names_are_reduced_to_base_names(sent: str, kept: str) -> None:
    head = f'Content-Disposition: form-data; name="f"; filename="{sent}"\r\n\r\n'.encode()
    assert parse(body(head + b"x"), CT).files["f"].filename == kept


def test_quoted_boundary_and_preamble_free_start() -> None:
    form = parse(
        body(b'Content-Disposition: form-data; name="a"\r\n\r\n1', boundary=b"a b'c"),
        'multipart/form-data; boundary="a b\'c"',
    )
    assert form.fields == {"a": "1"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=" + "x" * 71,
        "multipart/form-data; boundary=bad<char>",
        "multipart/mixed; boundary=XyZ",
    ],
)
def test_bad_content_types(content_type: str) -> None:
    with pytest.raises(MultipartError):
        boundary_of(content_type)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"no boundary here",
        b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n',  # never closed
        body(b"Content-Disposition: form-data\r\n\r\nno name"),
        body(b'Content-Disposition: attachment; name="a"\r\n\r\n1'),
        body(b'Content-Disposition: form-data; name="a"'),  # headers never end
        body(b"\r\nno headers"),
        body(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff\xfe'),  # field not UTF-8
        b"--XyZjunk\r\n" + body(b'Content-Disposition: form-data; name="a"\r\n\r\n1')[7:],
        body(b"X-Long: " + b"a" * 5000 + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n'),
    ],
)
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(MultipartError):
        parse(raw, CT)


def test_part_count_is_capped() -> None:
    part = b'Content-Disposition: form-data; name="a"\r\n\r\n1'
    assert parse(body(*[part] * MAX_PARTS), CT).fields == {"a": "1"}
    with pytest.raises(MultipartError):
        parse(body(*[part] * (MAX_PARTS + 1)), CT)
