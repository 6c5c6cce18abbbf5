"""S3 multipart uploads through boto3 and the AWS CLI: parts, completion, errors, listings."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code

pytestmark = pytest.mark.e2e

MiB = 1 << 20


def unread_body_error(cloud: Cloud, **kwargs: Any) -> tuple[str, int]:
    """An UploadPart refused before its body is read, on a connection of its own: botocore
    sends "Expect: 100-continue" and then never the body, and the server keeps the connection
    (see test_refused_part_keeps_the_connection_usable)."""
    with pytest.raises(ClientError) as err:
        cloud.client("s3").upload_part(Body=b"x", **kwargs)
    return code(err)


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload(s3: Any, bucket: str, key: str, parts: list[bytes]) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    return upload_id, done


def test_upload_complete_download(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail bytes"]
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key="big", ContentType="text/x-big", Metadata={"Origin": "mp"}
    )["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        answer = s3.upload_part(
            Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=number, Body=data,
            ContentMD5=md5,
        )  # fmt: skip
        assert answer["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    out = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert out["ETag"] == multipart_etag(parts)
    assert out["Key"] == "big" and out["Bucket"] == bucket and "/big" in out["Location"]
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == out["ETag"] and got["ContentType"] == "text/x-big"
    assert got["Metadata"] == {"origin": "mp"}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="big", UploadId=upload_id)
    assert code(err) == ("NoSuchUpload", 404)


def test_replaced_part_wins(s3: Any, bucket: str) -> None:
    upload_id, _ = upload(s3, bucket, "k", [b"first"])
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"second")[
        "ETag"
    ]
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, 6)]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"


def test_completion_errors(s3: Any, bucket: str) -> None:
    upload_id, done = upload(s3, bucket, "k", [b"a" * 100, b"b" * 100])

    def complete(parts: list[dict[str, Any]]) -> tuple[str, int]:
        with pytest.raises(ClientError) as err:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        return code(err)

    assert complete([done[0], {"PartNumber": 3, "ETag": done[1]["ETag"]}]) == ("InvalidPart", 400)
    assert complete([done[0], {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}]) == (
        "InvalidPart",
        400,
    )
    assert complete([done[1], done[0]]) == ("InvalidPartOrder", 400)
    assert complete([done[0], done[0]]) == ("InvalidPartOrder", 400)
    assert complete(done) == ("EntityTooSmall", 400)
    assert complete([]) == ("MalformedXML", 400)
    # A small part alone is fine: the last part has no minimum.
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done[1:]}
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b" * 100


def test_part_errors(cloud: Cloud, s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    at = {"Bucket": bucket, "Key": "k", "UploadId": upload_id}
    for number in (0, 10001):
        assert unread_body_error(cloud, **at, PartNumber=number) == ("InvalidArgument", 400)
    assert unread_body_error(cloud, **at | {"UploadId": "nope"}, PartNumber=1) == (
        "NoSuchUpload",
        404,
    )
    # An upload id names its key too.
    assert unread_body_error(cloud, **at | {"Key": "other"}, PartNumber=1) == ("NoSuchUpload", 404)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as err:
        s3.upload_part(
            Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x", ContentMD5=wrong
        )
    assert code(err) == ("BadDigest", 400)
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []
    with pytest.raises(ClientError) as err:
        s3.create_multipart_upload(Bucket=f"no-{uuid.uuid4().hex[:8]}", Key="k")
    assert code(err) == ("NoSuchBucket", 404)
    for call in (s3.abort_multipart_upload, s3.list_parts):
        with pytest.raises(ClientError) as err:
            call(Bucket=bucket, Key="k", UploadId="nope")
        assert code(err) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId="nope",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]},
        )  # fmt: skip
    assert code(err) == ("NoSuchUpload", 404)


def test_abort(cloud: Cloud, s3: Any, bucket: str) -> None:
    upload_id, _ = upload(s3, bucket, "k", [b"x" * 10, b"y" * 10])
    answer = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    at = {"Bucket": bucket, "Key": "k", "UploadId": upload_id, "PartNumber": 3}
    assert unread_body_error(cloud, **at) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as err:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert code(err) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_list_parts_pages(s3: Any, bucket: str) -> None:
    upload_id, done = upload(s3, bucket, "k", [bytes([n]) * n for n in range(1, 8)])
    seen, marker = [], 0
    while True:
        page = s3.list_parts(
            Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=3, PartNumberMarker=marker
        )
        assert page["MaxParts"] == 3 and len(page["Parts"]) <= 3
        assert page["UploadId"] == upload_id and page["Initiator"]["ID"] == page["Owner"]["ID"]
        seen += [(p["PartNumber"], p["ETag"], p["Size"]) for p in page["Parts"]]
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert seen == [(d["PartNumber"], d["ETag"], d["PartNumber"]) for d in done]
    paginator = s3.get_paginator("list_parts")
    pages = paginator.paginate(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2)
    assert sum(len(p["Parts"]) for p in pages) == 7


def test_list_uploads_prefix_delimiter_pages(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "b", "b", "c/d/e", "z"]
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys]
    everything = s3.list_multipart_uploads(Bucket=bucket)
    listed = [(u["Key"], u["UploadId"]) for u in everything["Uploads"]]
    assert listed == list(zip(keys, ids, strict=True))
    assert not everything["IsTruncated"]
    top = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in top["Uploads"]] == ["b", "b", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "c/"]
    inner = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in inner["Uploads"]] == ["a/1", "a/2"]
    seen: list[tuple[str, str]] = []
    prefixes: list[str] = []
    extra: dict[str, str] = {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, Delimiter="/", **extra)
        assert len(page.get("Uploads", [])) + len(page.get("CommonPrefixes", [])) <= 2
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        extra = {"KeyMarker": page["NextKeyMarker"]}
        if "NextUploadIdMarker" in page:
            extra["UploadIdMarker"] = page["NextUploadIdMarker"]
    assert prefixes == ["a/", "c/"]
    assert seen == [(k, i) for k, i in zip(keys, ids, strict=True) if k in ("b", "z")]
    after_b = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert [u["Key"] for u in after_b["Uploads"]] == ["c/d/e", "z"]
    for upload_id, key in zip(ids, keys, strict=True):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_upload_part_copy_with_range(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]  # fmt: skip
    assert first["ETag"] == f'"{hashlib.md5(source[: 5 * MiB]).hexdigest()}"'
    second = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2,
        CopySource=f"{bucket}/src", CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}",
    )["CopyPartResult"]  # fmt: skip
    for bad in (f"bytes=0-{6 * MiB}", "bytes=5-1", "0-10"):
        with pytest.raises(ClientError) as err:
            s3.upload_part_copy(
                Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=3,
                CopySource=f"{bucket}/src", CopySourceRange=bad,
            )  # fmt: skip
        assert code(err) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(
            Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=3,
            CopySource=f"{bucket}/src", CopySourceIfMatch='"00"',
        )  # fmt: skip
    assert code(err) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as err:
        s3.upload_part_copy(
            Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=3, CopySource=f"{bucket}/none"
        )
    assert code(err) == ("NoSuchKey", 404)
    parts = [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == source


def test_managed_transfer(s3: Any, bucket: str, tmp_path: Path) -> None:
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(os.urandom(12 * MiB + 123))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(src), bucket, "managed.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="managed.bin")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == 12 * MiB + 123
    s3.download_file(bucket, "managed.bin", str(back), Config=config)
    assert back.read_bytes() == src.read_bytes()


def test_aws_cli_cp_multipart(cloud: Cloud, bucket: str, tmp_path: Path) -> None:
    src, back = tmp_path / "twenty.bin", tmp_path / "back.bin"
    src.write_bytes(os.urandom(20 * MiB))
    cloud.aws_cli("s3", "cp", str(src), f"s3://{bucket}/twenty.bin", check=True)
    head = cloud.client("s3").head_object(Bucket=bucket, Key="twenty.bin")
    assert "-" in head["ETag"]  # the CLI uploaded it in parts
    cloud.aws_cli("s3", "cp", f"s3://{bucket}/twenty.bin", str(back), check=True)
    assert back.read_bytes() == src.read_bytes()


def test_refused_part_keeps_the_connection_usable(s3: Any, bucket: str) -> None:
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x")
        assert code(err) == ("NoSuchUpload", 404)


def test_parts_racing_an_abort(cloud: Cloud, bucket: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s3 = cloud.client("s3", max_pool_connections=8)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="race")["UploadId"]

    def put(number: int) -> str:
        try:
            s3.upload_part(
                Bucket=bucket, Key="race", UploadId=upload_id, PartNumber=number,
                Body=os.urandom(256 * 1024),
            )  # fmt: skip
            return "ok"
        except ClientError as err:
            return str(err.response["Error"]["Code"])

    with ThreadPoolExecutor(6) as pool:
        results = [pool.submit(put, n) for n in range(1, 25)]
        s3.abort_multipart_upload(Bucket=bucket, Key="race", UploadId=upload_id)
        outcomes = {f.result() for f in results}
    # Each part either landed before the abort (and went with it) or found no upload ("400":
    # the next request on a connection whose refused body was never read, see above).
    assert outcomes <= {"ok", "NoSuchUpload", "400"}, outcomes
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=bucket, Key="race", UploadId=upload_id)
    assert code(err) == ("NoSuchUpload", 404)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
