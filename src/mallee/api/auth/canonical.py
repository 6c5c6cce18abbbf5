"""Pieces of the SigV4 canonical request, built from the request as it came off the wire.

Clients disagree on how to encode what they sign (botocore signs the query exactly as it sent it;
the AWS spec re-encodes decoded values; S3 clients sign the path as sent while other services
double-encode). So the URI and query builders return candidates, the spec's form first: the
verifier only tries the others when the first does not match, which costs nothing on the
success path and never accepts a form whose meaning differs from what the server parses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, unquote_plus


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """AWS UriEncode: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded (UTF-8)."""
    return quote(value, safe="/" if keep_slash else "")


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, also collapsing empty segments as every AWS service except S3 does."""
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last


def canonical_uris(raw_path: str, *, s3: bool) -> list[str]:
    """Canonical URI candidates for a raw (still percent-encoded) request path."""
    path = raw_path or "/"
    if s3:
        # S3 signs the path as sent; the re-encoded form covers clients that encode differently.
        candidates = [path, uri_encode(unquote(path), keep_slash=True)]
    else:
        normalized = remove_dot_segments(path)
        # Spec: normalize, then encode the already-encoded path again ("double encoding").
        candidates = [uri_encode(normalized, keep_slash=True), normalized]
    return _unique(candidates)


def split_query(raw: str) -> list[tuple[str, str]]:
    """Raw (undecoded) key/value pairs of a query string, in order."""
    if not raw:
        return []
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def decode_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Decoded parameters the way the protocol parsers read them (`+` is a space)."""
    return {unquote_plus(k): unquote_plus(v) for k, v in pairs}


def canonical_queries(pairs: list[tuple[str, str]], *, exclude: str | None = None) -> list[str]:
    """Canonical query string candidates, leaving out the `exclude` parameter (the signature)."""
    kept = [(k, v) for k, v in pairs if exclude is None or unquote_plus(k) != exclude]
    encoded = sorted((uri_encode(unquote_plus(k)), uri_encode(unquote_plus(v))) for k, v in kept)
    spec = "&".join(f"{k}={v}" for k, v in encoded)
    as_sent = "&".join(f"{k}={v}" for k, v in sorted(kept))
    return _unique([spec, as_sent])


def trimall(value: str) -> str:
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> str:
    """`name:value\\n` for each signed header; a signed header the request lacks signs empty."""
    return "".join(f"{name}:{trimall(headers.get(name, ''))}\n" for name in names)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers_block: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    return f"{method}\n{uri}\n{query}\n{headers_block}\n{signed_headers}\n{payload_hash}"


def _unique(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
