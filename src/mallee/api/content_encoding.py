"""Request bodies a client compressed (botocore gzips PutMetricData's past 10 KiB, as the
model's `requestcompression` says): unpacked after the signature (which covers the bytes
sent) and before parsing, within the same size limit as any body."""

from __future__ import annotations

import zlib

from mallee.api.errors import entity_too_large, malformed_input
from mallee.api.http import HttpRequest


def decode_body(request: HttpRequest, limit: int) -> None:
    encodings = [
        e.strip().lower()
        for e in request.headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if not encodings or not request.body:
        return
    body = request.body
    for encoding in reversed(encodings):
        if encoding not in ("gzip", "x-gzip"):
            raise malformed_input(f"The content encoding {encoding} is not supported.")
        unpack = zlib.decompressobj(wbits=31)
        try:
            body = unpack.decompress(body, limit + 1)
        except zlib.error as err:
            raise malformed_input("The request body is not valid gzip data.") from err
        if len(body) > limit or unpack.unconsumed_tail:
            raise entity_too_large()
        if not unpack.eof:
            raise malformed_input("The request body is not valid gzip data.")
    request.body = body
