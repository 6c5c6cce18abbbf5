"""Multipart pure parts: the completed object's ETag, part numbers and the completion list."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.multipart import (
    MIN_PART_SIZE,
    chosen_parts,
    new_upload_id,
    part_number,
    requested_parts,
    upload_etag,
)
from mallee.store.tables.s3 import S3Part

pytestmark = pytest.mark.nodb


def part(number: int, data: bytes, size: int | None = None) -> S3Part:
    return S3Part(
        upload_id="u",
        part_number=number,
        size=len(data) if size is None else size,
        etag=f'"{hashlib.md5(data).hexdigest()}"',
        blob_id=f"{number:032x}",
        last_modified=datetime.now(UTC),
    )


def code(err: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return err.value.code, err.value.status


def test_upload_etag_is_md5_of_part_digests() -> None:
    chunks = [b"a" * 10, b"b" * 20, b"c"]
    digests = b"".join(hashlib.md5(c).digest() for c in chunks)
    tags = [f'"{hashlib.md5(c).hexdigest()}"' for c in chunks]
    assert upload_etag(tags) == f'"{hashlib.md5(digests).hexdigest()}-3"'
    # Quotes or none: the same digest.
    assert upload_etag(t.strip('"') for t in tags) == upload_etag(tags)
    # A known value: S3 gives one empty part this ETag.
    assert upload_etag(['"d41d8cd98f00b204e9800998ecf8427e"']) == (
        '"59adb24ef3cdbe0297f05b395827453f-1"'
    )


@pytest.mark.parametrize("value", [1, 10_000, "42"])
def test_part_numbers_in_range(value: object) -> None:
    assert part_number(value) == int(str(value))


@pytest.mark.parametrize("value", [0, -1, 10_001, None, "x"])
def test_part_numbers_out_of_range(value: object) -> None:
    with pytest.raises(ServiceError) as err:
        part_number(value)
    assert code(err) == ("InvalidArgument", 400)
    assert err.value.extra["ArgumentName"] == "partNumber"


def test_requested_parts_strip_quotes_and_keep_order() -> None:
    spec = {"Parts": [{"PartNumber": 1, "ETag": '"aa"'}, {"PartNumber": 3, "ETag": "bb"}]}
    assert requested_parts(spec) == [(1, "aa"), (3, "bb")]


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        (None, "MalformedXML"),
        ({"Parts": []}, "MalformedXML"),
        ({"Parts": [{"PartNumber": 1}]}, "MalformedXML"),
        ({"Parts": [{"PartNumber": 2, "ETag": "a"}, {"PartNumber": 1, "ETag": "b"}]},
         "InvalidPartOrder"),
        ({"Parts": [{"PartNumber": 1, "ETag": "a"}, {"PartNumber": 1, "ETag": "a"}]},
         "InvalidPartOrder"),
    ],
)  # fmt: skip
def test_requested_parts_refused(spec: object, want: str) -> None:
    with pytest.raises(ServiceError) as err:
        requested_parts(spec)
    assert code(err) == (want, 400)


def test_chosen_parts() -> None:
    big = b"x" * MIN_PART_SIZE
    stored = {1: part(1, big), 2: part(2, b"small"), 3: part(3, b"last")}
    tag = {n: p.etag.strip('"') for n, p in stored.items()}
    assert [p.part_number for p in chosen_parts([(1, tag[1]), (3, tag[3])], stored)] == [1, 3]
    # A part the upload does not have, or whose ETag differs.
    for wanted in ([(4, tag[3])], [(1, tag[2])]):
        with pytest.raises(ServiceError) as err:
            chosen_parts(wanted, stored)
        assert code(err) == ("InvalidPart", 400)
    # Every part but the last must be at least 5 MiB.
    with pytest.raises(ServiceError) as err:
        chosen_parts([(2, tag[2]), (3, tag[3])], stored)
    assert code(err) == ("EntityTooSmall", 400)
    assert err.value.extra["ProposedSize"] == "5" and err.value.extra["PartNumber"] == "2"
    assert [p.part_number for p in chosen_parts([(2, tag[2])], stored)] == [2]


def test_upload_ids_sort_by_creation() -> None:
    ids = [new_upload_id() for _ in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert len(ids[0]) <= 128
