"""Browser POST uploads: forms built by boto3's generate_presigned_post, sent as browsers do."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any
from xml.etree import ElementTree

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud

pytestmark = pytest.mark.e2e

HTTP = urllib3.PoolManager(retries=False, timeout=120)


def upload(
    url: str,
    fields: dict[str, str],
    data: bytes,
    *,
    filename: str = "photo.jpg",
    extra: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST the form: its fields, then the file (which must come last)."""
    parts: list[tuple[str, Any]] = list((fields | (extra or {})).items())
    parts.append(("file", (filename, data, "application/octet-stream")))
    body, content_type = urllib3.encode_multipart_formdata(parts)
    return HTTP.request(
        "POST", url, body=body, headers={"Content-Type": content_type, **(headers or {})}
    )


def error(response: Any) -> tuple[int, str, str]:
    root = ElementTree.fromstring(response.data)
    return response.status, root.findtext("Code") or "", root.findtext("Message") or ""


def test_upload_with_defaults(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "docs/report.txt")
    r = upload(post["url"], post["fields"], b"hello form")
    assert r.status == 204, r.data
    assert r.headers["ETag"] == f'"{hashlib.md5(b"hello form").hexdigest()}"'
    assert r.headers["Location"].endswith(f"/{bucket}/docs/report.txt")
    got = s3.get_object(Bucket=bucket, Key="docs/report.txt")
    assert got["Body"].read() == b"hello form"
    assert got["ContentType"] == "binary/octet-stream"


def test_fields_become_object_headers(s3: Any, bucket: str) -> None:
    fields = {"Content-Type": "image/jpeg", "x-amz-meta-owner": "ann", "acl": "public-read"}
    conditions: list[Any] = [{"acl": "public-read"}, ["starts-with", "$Content-Type", "image/"]]
    conditions.append(["starts-with", "$x-amz-meta-owner", ""])
    post = s3.generate_presigned_post(
        bucket, "up/${filename}", Fields=fields, Conditions=conditions
    )
    r = upload(post["url"], post["fields"], b"\xff\xd8jpeg", filename="cat.jpg")
    assert r.status == 204, r.data
    head = s3.head_object(Bucket=bucket, Key="up/cat.jpg")
    assert head["ContentType"] == "image/jpeg" and head["Metadata"] == {"owner": "ann"}
    grants = s3.get_object_acl(Bucket=bucket, Key="up/cat.jpg")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_success_action_status_and_redirect(s3: Any, bucket: str) -> None:
    for status in ("200", "201", "204", "999"):
        post = s3.generate_presigned_post(
            bucket,
            f"s{status}",
            Fields={"success_action_status": status},
            Conditions=[{"success_action_status": status}],
        )
        r = upload(post["url"], post["fields"], b"x")
        assert r.status == {"999": 204}.get(status, int(status)), r.data
        if status == "201":
            root = ElementTree.fromstring(r.data)
            assert root.tag == "PostResponse"
            assert root.findtext("Bucket") == bucket and root.findtext("Key") == "s201"
            assert root.findtext("ETag") == r.headers["ETag"]
            assert root.findtext("Location", "").endswith(f"/{bucket}/s201")
    target = "https://app.example.com/done?x=1"
    post = s3.generate_presigned_post(
        bucket,
        "r",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
    )
    r = upload(post["url"], post["fields"], b"x", headers={})
    assert r.status == 303
    assert r.headers["Location"].startswith(target + f"&bucket={bucket}&key=r&etag=")


def test_policy_conditions(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(
        bucket, "user/${filename}", Conditions=[["content-length-range", 5, 10]]
    )
    url, fields = post["url"], post["fields"]
    r = upload(url, fields | {"key": "other/x"}, b"123456")
    assert error(r) == (
        403,
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]',
    )
    r = upload(url, fields, b"123456", extra={"x-amz-meta-sneaky": "1"})
    assert error(r) == (
        403,
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky",
    )
    r = upload(url, fields, b"123456", extra={"x-ignore-note": "fine"})
    assert r.status == 204, r.data
    r = upload(url, fields, b"x" * 11, filename="big")
    assert error(r)[:2] == (400, "EntityTooLarge")
    r = upload(url, fields, b"x" * 4, filename="small")
    assert error(r)[:2] == (400, "EntityTooSmall")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["user/photo.jpg"]
    # Another bucket than the policy names.
    other = f"post-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=other)
    r = upload(url.rsplit("/", 1)[0] + f"/{other}", fields, b"123456")
    assert error(r)[:2] == (403, "AccessDenied")


def test_expired_and_forged(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "k", ExpiresIn=-10)
    r = upload(post["url"], post["fields"], b"x")
    assert error(r) == (403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    post = s3.generate_presigned_post(bucket, "k")
    forged = post["fields"] | {"x-amz-signature": "0" * 64}
    assert error(upload(post["url"], forged, b"x"))[:2] == (403, "SignatureDoesNotMatch")
    scope = post["fields"]["x-amz-credential"].split("/", 1)[1]
    unknown = post["fields"] | {"x-amz-credential": f"AKIAUNKNOWN/{scope}"}
    assert error(upload(post["url"], unknown, b"x"))[:2] == (403, "InvalidAccessKeyId")
    no_policy = {k: v for k, v in post["fields"].items() if k != "policy"}
    assert error(upload(post["url"], no_policy, b"x"))[:2] == (400, "InvalidArgument")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_signature_v2_form(cloud: Cloud, bucket: str) -> None:
    v2 = cloud.client("s3", signature_version="s3", s3={"addressing_style": "path"})
    post = v2.generate_presigned_post(bucket, "v2-key")
    assert "AWSAccessKeyId" in post["fields"] and "signature" in post["fields"]
    r = upload(post["url"], post["fields"], b"v2 data")
    assert r.status == 204, r.data
    assert v2.get_object(Bucket=bucket, Key="v2-key")["Body"].read() == b"v2 data"


def test_anonymous_forms_follow_the_acl(cloud: Cloud, s3: Any, bucket: str) -> None:
    r = upload(f"{cloud.endpoint}/{bucket}", {"key": "anon"}, b"x")
    assert error(r)[:2] == (403, "AccessDenied")
    public = f"post-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=public, ACL="public-read-write")
    r = upload(f"{cloud.endpoint}/{public}", {"key": "anon"}, b"x")
    assert r.status == 204, r.data
    assert s3.get_object(Bucket=public, Key="anon")["Body"].read() == b"x"


def test_malformed_forms(cloud: Cloud, s3: Any, bucket: str) -> None:
    url = f"{cloud.endpoint}/{bucket}"
    r = HTTP.request("POST", url, body=b"key=k", headers={"Content-Type": "text/plain"})
    assert error(r)[:2] == (412, "PreconditionFailed")
    body, content_type = urllib3.encode_multipart_formdata([("key", "k")])
    r = HTTP.request("POST", url, body=body, headers={"Content-Type": content_type})
    assert error(r) == (
        400,
        "InvalidArgument",
        "POST requires exactly one file upload per request.",
    )
    post = s3.generate_presigned_post(bucket, "k")
    no_key = {k: v for k, v in post["fields"].items() if k != "key"}
    assert error(upload(post["url"], no_key, b"x"))[:2] == (400, "InvalidArgument")
    post = s3.generate_presigned_post(
        bucket, "k", Fields={"acl": "bogus"}, Conditions=[{"acl": "bogus"}]
    )
    assert error(upload(post["url"], post["fields"], b"x"))[:2] == (400, "InvalidArgument")
    r = HTTP.request(
        "POST",
        url,
        body=b"--xx\r\nnonsense",
        headers={"Content-Type": "multipart/form-data; boundary=xx"},
    )
    assert error(r)[:2] == (400, "MalformedPOSTRequest")
    r = HTTP.request("POST", url, body=b"", headers={"Content-Type": "multipart/form-data"})
    assert error(r)[:2] == (412, "PreconditionFailed")


def test_twenty_mebibytes(s3: Any, bucket: str) -> None:
    data = os.urandom(20 << 20)
    post = s3.generate_presigned_post(
        bucket, "big.bin", Conditions=[["content-length-range", 0, 21 << 20]]
    )
    r = upload(post["url"], post["fields"], data)
    assert r.status == 204, r.data
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    got = s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_cors_on_post_answers(s3: Any, bucket: str) -> None:
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["POST"],
                           "ExposeHeaders": ["ETag"]}]
        },
    )  # fmt: skip
    post = s3.generate_presigned_post(bucket, "c")
    r = upload(post["url"], post["fields"], b"x", headers={"Origin": "https://app.example"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"


def test_signer_needs_put_object_permission(cloud: Cloud, bucket: str) -> None:
    iam = cloud.client("iam")
    name = f"poster-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = cloud.client(
        "s3", key["AccessKeyId"], key["SecretAccessKey"], s3={"addressing_style": "path"}
    )
    post = user.generate_presigned_post(bucket, "by-user")
    assert error(upload(post["url"], post["fields"], b"x"))[:2] == (403, "AccessDenied")
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject",'
        f'"Resource":"arn:aws:s3:::{bucket}/*"}}]}}'
    )
    iam.put_user_policy(UserName=name, PolicyName="put", PolicyDocument=policy)
    r = upload(post["url"], post["fields"], b"x")
    assert r.status == 204, r.data
