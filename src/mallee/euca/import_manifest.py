"""The import manifest euca2ools writes for euca-import-volume (AWS's VM import manifest).

The image is uploaded as parts (PART_SIZE bytes each, as euca2ools) beside the manifest; each
part is named by its key and by presigned head/get/delete URLs, and the manifest by a
presigned delete URL (`self-destruct-url`), so a service could fetch and clean up with no
credentials of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

PART_SIZE = 10 << 20
VERSION = "2010-11-15"

# (method, key) -> a presigned URL for it.
Presign = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class ManifestPart:
    index: int
    start: int
    end: int  # inclusive
    key: str


def split(size: int, prefix: str, name: str, part_size: int = PART_SIZE) -> list[ManifestPart]:
    """The parts a file of `size` bytes is uploaded as (keys `<prefix><name>.part.<n>`)."""
    count = max(1, -(-size // part_size))
    return [
        ManifestPart(
            i, i * part_size, min(size, (i + 1) * part_size) - 1, f"{prefix}{name}.part.{i}"
        )
        for i in range(count)
    ]


def build(
    file_format: str,
    size: int,
    volume_size: int,
    parts: list[ManifestPart],
    manifest_key: str,
    presign: Presign,
    importer: str = "mallee-euca",
) -> bytes:
    def tag(name: str, text: object) -> str:
        return f"<{name}>{escape(str(text))}</{name}>"

    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        "<manifest>",
        tag("version", VERSION),
        tag("file-format", file_format.upper()),
        "<importer>" + tag("name", importer) + tag("version", "1.0") + tag("release", VERSION),
        "</importer>",
        tag("self-destruct-url", presign("DELETE", manifest_key)),
        "<import>",
        tag("size", size),
        tag("volume-size", volume_size),
        f'<parts count="{len(parts)}">',
    ]
    for p in parts:
        lines += [
            f'<part index="{p.index}">',
            f"<byte-range start={quoteattr(str(p.start))} end={quoteattr(str(p.end))}/>",
            tag("key", p.key),
            tag("head-url", presign("HEAD", p.key)),
            tag("get-url", presign("GET", p.key)),
            tag("delete-url", presign("DELETE", p.key)),
            "</part>",
        ]
    lines += ["</parts>", "</import>", "</manifest>", ""]
    return "\n".join(lines).encode()
