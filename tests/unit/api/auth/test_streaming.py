"""aws-chunked uploads, starting from AWS's documented example ("Example: PUT Object" in
"Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks")."""

from __future__ import annotations

import base64
import hashlib
import itertools
import zlib
from functools import partial

import pytest

from mallee.api.auth import AuthError, ChunkedPayloadDecoder, ChunkSigner, authenticate
from mallee.api.auth.signing import signing_key
from mallee.api.http import HttpRequest
from tests.unit.api.auth.helpers import expect_error, lookup_of, make_credential

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = 1369353600.0  # 2013-05-24T00:00:00Z
SCOPE = "20130524/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
CHUNK2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
FINAL = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
DATA = b"a" * 66560


def example_request(body: bytes = b"") -> HttpRequest:
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={AKID}/{SCOPE},SignedHeaders=content-encoding;"
            "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
            f"x-amz-storage-class,Signature={SEED}"
        ),
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
    }
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, body)


def example_body() -> bytes:
    return (
        f"10000;chunk-signature={CHUNK1}\r\n".encode()
        + b"a" * 65536
        + b"\r\n"
        + f"400;chunk-signature={CHUNK2}\r\n".encode()
        + b"a" * 1024
        + b"\r\n"
        + f"0;chunk-signature={FINAL}\r\n\r\n".encode()
    )


def example_decoder() -> ChunkedPayloadDecoder:
    result = authenticate(
        example_request(), lookup_of(make_credential(AKID, SECRET)), now=NOW, style="s3"
    )
    assert result is not None and isinstance(result.payload, ChunkedPayloadDecoder)
    return result.payload


def test_seed_and_chunk_signatures_match_the_documentation() -> None:
    signer = ChunkSigner(
        signing_key(SECRET, "20130524", "us-east-1", "s3"), "20130524T000000Z", SCOPE, SEED
    )
    expected = [CHUNK1, CHUNK2, FINAL]
    for data, sig in zip([b"a" * 65536, b"a" * 1024, b""], expected, strict=True):
        assert signer.chunk(hashlib.sha256(data).hexdigest()) == sig
        signer.previous = sig
    assert len(example_body()) == 66824


def test_example_body_decodes_whole() -> None:
    decoder = example_decoder()
    assert decoder.decode_all(example_body()) == DATA
    assert decoder.done and decoder.decoded_bytes == 66560


@pytest.mark.parametrize("sizes", [(1,), (3, 7, 13), (8191, 1), (65539,), (2, 65536, 5)])
def test_example_body_decodes_in_odd_pieces(sizes: tuple[int, ...]) -> None:
    decoder = example_decoder()
    body, out, pos = example_body(), bytearray(), 0
    for size in itertools.cycle(sizes):
        if pos >= len(body):
            break
        out += decoder.feed(body[pos : pos + size])
        pos += size
    decoder.finish()
    assert bytes(out) == DATA


def test_data_is_released_only_after_its_chunk_verified() -> None:
    decoder = example_decoder()
    body = example_body()
    header_len = len(f"10000;chunk-signature={CHUNK1}\r\n")
    assert decoder.feed(body[: header_len + 65536]) == b""  # chunk complete but CRLF not seen
    assert decoder.feed(body[header_len + 65536 : header_len + 65538]) == b"a" * 65536


@pytest.mark.parametrize("offset", [100, 65535, 66000, 66700])
def test_flipped_data_byte_is_refused(offset: int) -> None:
    body = bytearray(example_body())
    if body[offset : offset + 1] == b"a":
        body[offset] = ord("b")
    else:
        body[offset] ^= 1
    decoder = example_decoder()
    with pytest.raises(AuthError) as info:
        decoder.decode_all(bytes(body))
    assert info.value.code in ("SignatureDoesNotMatch", "IncompleteBody")
    expect_error(info.value.code, info.value.status, decoder.finish)


def test_flipped_signature_and_reordered_chunks_are_refused() -> None:
    body = example_body()
    bad_sig = body.replace(CHUNK2.encode(), CHUNK2[:-1].encode() + b"0")
    first_len = len(f"10000;chunk-signature={CHUNK1}\r\n") + 65536 + 2
    decoder = example_decoder()
    assert decoder.feed(bad_sig[:first_len]) == b"a" * 65536
    expect_error("SignatureDoesNotMatch", 403, lambda: decoder.feed(bad_sig[first_len:]))
    first = f"10000;chunk-signature={CHUNK1}\r\n".encode() + b"a" * 65536 + b"\r\n"
    second = f"400;chunk-signature={CHUNK2}\r\n".encode() + b"a" * 1024 + b"\r\n"
    swapped = bytearray(second + first + body[len(first) + len(second) :])
    expect_error("SignatureDoesNotMatch", 403, lambda: example_decoder().feed(bytes(swapped)))


def test_missing_final_chunk_and_trailing_garbage_are_refused() -> None:
    body = example_body()
    truncated = body[: body.index(b"\r\n0;chunk-signature") + 2]
    decoder = example_decoder()
    assert decoder.feed(truncated) == DATA
    expect_error("IncompleteBody", 400, decoder.finish)
    expect_error("IncompleteBody", 400, lambda: example_decoder().decode_all(body + b"x"))


def test_decoded_length_must_match() -> None:
    key = signing_key(SECRET, "20130524", "us-east-1", "s3")
    for length in (66559, 66561):
        signer = ChunkSigner(key, "20130524T000000Z", SCOPE, SEED)
        decoder = ChunkedPayloadDecoder("signed", signer=signer, decoded_length=length)
        expect_error("IncompleteBody", 400, partial(decoder.decode_all, example_body()))


def _encode_signed(data: bytes, signer: ChunkSigner, size: int, trailers: dict[str, str]) -> bytes:
    out = bytearray()
    chunks = [data[i : i + size] for i in range(0, len(data), size)] + [b""]
    for chunk in chunks:
        sig = signer.chunk(hashlib.sha256(chunk).hexdigest())
        signer.previous = sig
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk
        out += b"\r\n" if chunk else b""
    lines = "".join(f"{k}:{v}\n" for k, v in trailers.items())
    trailer_sig = signer.trailer(hashlib.sha256(lines.encode()).hexdigest())
    for k, v in trailers.items():
        out += f"{k}:{v}\r\n".encode()
    out += f"x-amz-trailer-signature:{trailer_sig}\r\n\r\n".encode()
    return bytes(out)


def test_signed_trailer_mode() -> None:
    key = signing_key(SECRET, "20130524", "us-east-1", "s3")
    data = bytes(range(256)) * 100
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = _encode_signed(
        data, ChunkSigner(key, "20130524T000000Z", SCOPE, SEED), 8192, {"x-amz-checksum-crc32": crc}
    )

    def decoder() -> ChunkedPayloadDecoder:
        return ChunkedPayloadDecoder(
            "signed-trailer",
            signer=ChunkSigner(key, "20130524T000000Z", SCOPE, SEED),
            decoded_length=len(data),
            trailer_names=["x-amz-checksum-crc32"],
        )

    ok = decoder()
    assert ok.decode_all(body) == data and ok.verified_checksums == ["x-amz-checksum-crc32"]
    forged = body.replace(crc.encode(), b"AAAAAA==")
    expect_error("SignatureDoesNotMatch", 403, lambda: decoder().decode_all(forged))


def _encode_unsigned(data: bytes, size: int, trailer: str) -> bytes:
    out = bytearray()
    for i in range(0, len(data), size):
        chunk = data[i : i + size]
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    return bytes(out) + f"0\r\n{trailer}\r\n\r\n".encode()


def test_unsigned_trailer_checksums() -> None:
    data = b"hello world" * 1000
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    body = _encode_unsigned(data, 4096, f"x-amz-checksum-sha256:{sha}")
    decoder = ChunkedPayloadDecoder(
        "unsigned-trailer", decoded_length=len(data), trailer_names=["x-amz-checksum-sha256"]
    )
    assert decoder.decode_all(body) == data
    bad = _encode_unsigned(data, 4096, "x-amz-checksum-sha256:" + "A" * 43 + "=")
    expect_error(
        "BadDigest",
        400,
        lambda: ChunkedPayloadDecoder(
            "unsigned-trailer", trailer_names=["x-amz-checksum-sha256"]
        ).decode_all(bad),
    )
    missing = _encode_unsigned(data, 4096, "x-other:1")
    expect_error(
        "IncompleteBody",
        400,
        lambda: ChunkedPayloadDecoder(
            "unsigned-trailer", trailer_names=["x-amz-checksum-sha256"]
        ).decode_all(missing),
    )


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcd\r\n0\r\n\r\n", b"3\r\nab", b"\xff\r\n", b"1" * 5000],
)
def test_malformed_framing_is_refused(body: bytes) -> None:
    decoder = ChunkedPayloadDecoder("unsigned-trailer")
    expect_error("IncompleteBody", 400, lambda: decoder.decode_all(body))
