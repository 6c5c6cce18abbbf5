"""The import manifest euca-import-volume writes, read back by the EC2 service's parser; the
conversion task lines as euca2ools prints them."""

from __future__ import annotations

import pytest

from mallee.euca.commands.conversion_tasks import task_lines
from mallee.euca.import_manifest import PART_SIZE, build, split
from mallee.services.ec2.import_sources import object_location, parse_manifest


def presign(method: str, key: str) -> str:
    return f"http://cloud:8773/services/objectstorage/b/{key}?X-Amz-Signature={method}&a=1"


def test_parts_cover_the_file_in_10_mib_pieces() -> None:
    parts = split(25 << 20, "p/u/", "disk.img")
    assert [(p.index, p.start, p.end) for p in parts] == [
        (0, 0, PART_SIZE - 1),
        (1, PART_SIZE, 2 * PART_SIZE - 1),
        (2, 2 * PART_SIZE, (25 << 20) - 1),
    ]
    assert [p.key for p in parts] == [f"p/u/disk.img.part.{i}" for i in range(3)]
    assert [(p.start, p.end) for p in split(1, "", "x")] == [(0, 0)]


def test_a_built_manifest_parses_back() -> None:
    size = 2 * PART_SIZE + 7
    parts = split(size, "pre/", "a&b.img")
    xml = build("raw", size, 1, parts, "pre/a&b.img.manifest.xml", presign)
    assert b"<self-destruct-url>" in xml and b"&amp;a=1" in xml
    assert xml.count(b"<get-url>") == 3 and xml.count(b"<delete-url>") == 3
    manifest = parse_manifest(xml)
    assert (manifest.file_format, manifest.size, manifest.volume_size) == ("RAW", size, 1)
    assert manifest.parts == [(p.start, p.end, p.key) for p in parts]


GOOD = build("raw", 20, 1, split(20, "", "d", part_size=10), "m", presign)


@pytest.mark.parametrize(
    "bad",
    [
        GOOD.replace(b"<size>20</size>", b"<size>21</size>"),  # parts short of the size
        GOOD.replace(b'count="2"', b'count="3"'),
        GOOD.replace(b'start="10"', b'start="11"'),  # a gap
        GOOD.replace(b'<part index="1">', b'<part index="0">'),
        GOOD.replace(b"<manifest>", b"<other>").replace(b"</manifest>", b"</other>"),
        b'<!DOCTYPE m [<!ENTITY e "x">]>' + GOOD.split(b"?>", 1)[1],
        GOOD[:-40],
    ],
)
def test_bad_manifests_are_refused(bad: bytes) -> None:
    assert parse_manifest(GOOD).size == 20
    with pytest.raises(ValueError):
        parse_manifest(bad)


def test_object_locations() -> None:
    assert object_location("u", presign("GET", "k/x.img")) == ("b", "k/x.img")
    assert object_location("u", "http://h/b/k%20y") == ("b", "k y")
    assert object_location("u", "s3://bkt/some/key") == ("bkt", "some/key")


def test_task_lines_follow_euca2ools() -> None:
    task = {
        "ConversionTaskId": "import-vol-abcd1234",
        "ExpirationTime": "2027-01-06T09:00:00.000Z",
        "State": "active",
        "StatusMessage": "Pending",
        "ImportVolume": {
            "BytesConverted": 0,
            "AvailabilityZone": "one",
            "Image": {"Format": "RAW", "Size": 4096},
            "Volume": {"Id": "vol-1", "Size": 1},
        },
    }
    assert task_lines(task) == [
        ["TaskType", "IMPORTVOLUME", "TaskId", "import-vol-abcd1234", "ExpirationTime",
         "2027-01-06T09:00:00.000Z", "Status", "active", "StatusMessage", "Pending"],
        ["DISKIMAGE", "DiskImageFormat", "RAW", "DiskImageSize", 4096, "VolumeId", "vol-1",
         "VolumeSize", 1, "AvailabilityZone", "one"],
    ]  # fmt: skip
