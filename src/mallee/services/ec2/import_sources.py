"""What an import converts: the objects an import manifest (ImportVolume) or a disk container
(ImportSnapshot) names, checked readable by the caller and pinned by ETag.

Every object is read (the manifest) or headed (the parts, a snapshot's object) with S3's own
GetObject/HeadObject as the caller, through the gateway's internal call, so bucket policies and
ACLs decide as for any read: an import cannot reach an object its caller could not download.
The storage agent later reads the same objects' data from the object store and fails the task
if an ETag changed meanwhile.

The manifest is the one euca2ools and ec2-upload-disk-image write (AWS's VM import manifest):

    <manifest><version>2010-11-15</version><file-format>RAW</file-format>
      <importer>...</importer><self-destruct-url>...</self-destruct-url>
      <import><size>BYTES</size><volume-size>GiB</volume-size><parts count="N">
        <part index="0"><byte-range start="0" end="10485759"/><key>KEY</key>
          <head-url/><get-url/><delete-url/></part>...
      </parts></import></manifest>

Its parts are keys of the manifest's own bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.protocol.xmlutil import XmlRejected, local_name, parse_xml
from mallee.objectstore.backends import Piece
from mallee.services.base import Runtime
from mallee.services.ec2 import errors

# Formats accepted, by their API names (QCOW2 as Eucalyptus accepts it besides AWS's three).
FORMATS = ("RAW", "VMDK", "VHD", "QCOW2")
MAX_MANIFEST = 1 << 20
MAX_PARTS = 10000
# The path prefix of the object store's Eucalyptus-style URL (/services/objectstorage/b/k).
_S3_PATHS = ("/services/objectstorage/", "/services/Walrus/")


@dataclass(frozen=True, slots=True)
class Part:
    bucket: str
    key: str
    etag: str
    start: int
    end: int  # inclusive, as a manifest's byte-range


@dataclass(frozen=True, slots=True)
class Manifest:
    file_format: str
    size: int
    volume_size: int
    # (start, end inclusive, key), in order.
    parts: list[tuple[int, int, str]]


def image_format(name: str, value: object) -> str:
    fmt = str(value or "").upper()
    if fmt not in FORMATS:
        raise errors.invalid_parameter(name, value, "Supported: RAW, VMDK, VHD, QCOW2.")
    return fmt


def object_location(name: str, url: str) -> tuple[str, str]:
    """(bucket, key) of an object named by a URL of this cloud's object store (a presigned
    http(s) URL, path style) or by s3://bucket/key."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
    elif parts.scheme in ("http", "https"):
        path = unquote(parts.path)
        for prefix in _S3_PATHS:
            if path.startswith(prefix):
                path = "/" + path[len(prefix) :]
                break
        bucket, _, key = path.lstrip("/").partition("/")
    else:
        raise errors.invalid_parameter(name, url, "Expected an http(s) or s3 URL.")
    if not bucket or not key:
        raise errors.invalid_parameter(name, url, "Expected a URL naming bucket/key.")
    return bucket, key


def _denied(name: str, bucket: str, key: str, err: ServiceError) -> ServiceError:
    # Whoever may not read the object learns nothing more, as RegisterImage answers.
    if err.code in ("NoSuchBucket", "NoSuchKey"):
        return errors.invalid_parameter(name, f"{bucket}/{key}", "No such object.")
    return errors.auth_failure(f"Not authorized to read {bucket}/{key}")


def read_manifest(rt: Runtime, ctx: RequestContext, name: str, bucket: str, key: str) -> bytes:
    try:
        found = rt.calls.call(
            "s3", "GetObject", {"Bucket": bucket, "Key": key}, principal=ctx.principal
        )
    except ServiceError as err:
        raise _denied(name, bucket, key, err) from None
    body = found["Body"]
    pieces: Iterator[Piece] = iter((body,)) if isinstance(body, bytes) else body
    data = bytearray()
    for piece in pieces:
        data.extend(piece)
        if len(data) > MAX_MANIFEST:
            raise errors.invalid_parameter(name, f"{bucket}/{key}", "The manifest is too large.")
    return bytes(data)


def head(rt: Runtime, ctx: RequestContext, name: str, bucket: str, key: str) -> tuple[str, int]:
    """The object's (ETag, size), if the caller may read it."""
    try:
        found = rt.calls.call(
            "s3", "HeadObject", {"Bucket": bucket, "Key": key}, principal=ctx.principal
        )
    except ServiceError as err:
        raise _denied(name, bucket, key, err) from None
    return str(found.get("ETag", "")), int(found.get("ContentLength", 0))


def _child(node: Element, name: str) -> Element | None:
    for child in node:
        if local_name(child.tag) == name:
            return child
    return None


def _text(node: Element, *path: str) -> str:
    for name in path:
        found = _child(node, name)
        if found is None:
            raise ValueError(f"no <{name}>")
        node = found
    return (node.text or "").strip()


def parse_manifest(data: bytes) -> Manifest:
    """The manifest's format, sizes and parts; ValueError when it is not one, or its parts do
    not cover the image's bytes exactly once, in order."""
    try:
        root = parse_xml(data)
    except XmlRejected as err:
        raise ValueError(f"not XML: {err}") from None
    if local_name(root.tag) != "manifest":
        raise ValueError("not an import manifest")
    fmt = _text(root, "file-format").upper()
    size = int(_text(root, "import", "size"))
    volume_size = int(_text(root, "import", "volume-size") or 0)
    imp = _child(root, "import")
    parts_node = _child(imp, "parts") if imp is not None else None
    if parts_node is None:
        raise ValueError("no <parts>")
    found: list[tuple[int, int, int, str]] = []
    for part in parts_node:
        if local_name(part.tag) != "part":
            continue
        span = _child(part, "byte-range")
        if span is None:
            raise ValueError("a part has no <byte-range>")
        key = _text(part, "key")
        if not key:
            raise ValueError("a part has no <key>")
        found.append(
            (
                int(part.get("index", "-1")),
                int(span.get("start", "")),
                int(span.get("end", "")),
                key,
            )
        )
    if not found or len(found) > MAX_PARTS:
        raise ValueError(f"{len(found)} parts")
    declared = parts_node.get("count")
    if declared is not None and int(declared) != len(found):
        raise ValueError(f"parts count {declared} but {len(found)} parts")
    found.sort()
    at = 0
    for index, (i, start, end, _) in enumerate(found):
        if i != index or start != at or end < start:
            raise ValueError(f"part {i} does not follow byte {at - 1}")
        at = end + 1
    if at != size:
        raise ValueError(f"the parts hold {at} bytes, the image {size}")
    return Manifest(fmt, size, volume_size, [(s, e, k) for _, s, e, k in found])


def parts_json(parts: list[Part]) -> str:
    return json.dumps([asdict(p) for p in parts])
