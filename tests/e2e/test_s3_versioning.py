"""S3 versioning through boto3 and the AWS CLI: states, versions, delete markers, listing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code

pytestmark = pytest.mark.e2e


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_versioning_states(s3: Any, bucket: str) -> None:
    got = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in got
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as err:
        enable(s3, bucket, "Sometimes")
    assert code(err) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}
        )
    assert code(err) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_versioning(Bucket=f"nope-{uuid.uuid4().hex[:8]}")
    assert code(err) == ("NoSuchBucket", 404)


def test_versions_and_delete_markers(s3: Any, bucket: str) -> None:
    # Written before versioning: the "null" version, kept when versioning starts.
    s3.put_object(Bucket=bucket, Key="k", Body=b"zero")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    null = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert null["Body"].read() == b"zero" and null["VersionId"] == "null"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 3

    gone = s3.delete_object(Bucket=bucket, Key="k")
    assert gone["DeleteMarker"] is True
    marker = gone["VersionId"]
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(err) == ("NoSuchKey", 404)
    headers = err.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="k")
    assert code(err)[1] == 404
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert code(err) == ("MethodNotAllowed", 405)
    assert "k" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    # Removing the marker by version brings the previous version back.
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    # Removing the latest version for good makes the one before it latest.
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)["VersionId"] == v2
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert code(err) == ("NoSuchVersion", 404)


def test_suspended_writes_null_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"a")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"b")["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b"
    # A delete marker takes the null id too, replacing the null version.
    gone = s3.delete_object(Bucket=bucket, Key="k")
    assert gone["DeleteMarker"] is True and gone["VersionId"] == "null"
    out = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in out["Versions"]] == [kept]
    assert [(m["VersionId"], m["IsLatest"]) for m in out["DeleteMarkers"]] == [("null", True)]


def test_unversioned_bucket_reports_no_version_ids(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="k")
    gone = s3.delete_object(Bucket=bucket, Key="k")
    assert "VersionId" not in gone and "DeleteMarker" not in gone
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []


def test_list_object_versions_pages(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    made: dict[str, list[str]] = {}
    for key in ("a", "b", "dir/x", "dir/y", "c"):
        for body in (b"1", b"2"):
            made.setdefault(key, []).insert(
                0, s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
            )
    marker = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]
    made["b"].insert(0, marker)

    out = s3.list_object_versions(Bucket=bucket)
    everything = sorted(
        [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out["Versions"]]
        + [(m["Key"], m["VersionId"], m["IsLatest"]) for m in out["DeleteMarkers"]],
        key=lambda item: item[0],
    )
    expected = [(k, v, i == 0) for k in sorted(made) for i, v in enumerate(made[k])]
    assert sorted(everything) == sorted(expected)
    assert all(v["Owner"]["ID"] for v in out["Versions"])

    # Page through two at a time: key order, newest first within a key.
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2}
    while True:
        page = s3.list_object_versions(**kwargs)
        items = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(items) <= 2
        seen += sorted(((i["Key"], i["VersionId"]) for i in items), key=_order(made))
        if not page["IsTruncated"]:
            break
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    assert seen == [(k, v) for k in sorted(made) for v in made[k]]

    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in grouped["Versions"]} == {"a", "b", "c"}
    inside = s3.list_object_versions(Bucket=bucket, Prefix="dir/", KeyMarker="dir/x")
    assert [v["Key"] for v in inside["Versions"]] == ["dir/y", "dir/y"]
    with pytest.raises(ClientError) as err:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=made["a"][0])
    assert code(err) == ("InvalidArgument", 400)


def _order(made: dict[str, list[str]]) -> Any:
    return lambda item: (item[0], made[item[0]].index(item[1]))


def test_encoding_type_url(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="a b/ü", Body=b"x")
    # Asked for by the caller: the keys come back encoded.
    out = s3.list_object_versions(Bucket=bucket, EncodingType="url")
    assert [v["Key"] for v in out["Versions"]] == ["a%20b/%C3%BC"]
    # botocore asks for url encoding on its own and then decodes what it gets.
    out = s3.list_object_versions(Bucket=bucket, Prefix="a b/")
    assert [v["Key"] for v in out["Versions"]] == ["a b/ü"]
    assert out["Prefix"] == "a b/"


def test_delete_objects_with_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}, {"Key": "j"}]})
    markers = {d["Key"]: d for d in out["Deleted"]}
    assert markers["k"]["DeleteMarker"] is True
    assert markers["k"]["DeleteMarkerVersionId"]
    out = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "k", "VersionId": v1},
                {"Key": "k", "VersionId": markers["k"]["DeleteMarkerVersionId"]},
                {"Key": "j", "VersionId": markers["j"]["DeleteMarkerVersionId"]},
            ]
        },
    )
    assert len(out["Deleted"]) == 3
    listed = s3.list_object_versions(Bucket=bucket)
    assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []
    s3.delete_bucket(Bucket=bucket)


def test_aws_cli_versioning(cloud: Cloud, s3: Any, bucket: str) -> None:
    cloud.aws_cli(
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        bucket,
        "--versioning-configuration",
        "Status=Enabled",
        check=True,
    )
    got = cloud.aws_cli("s3api", "get-bucket-versioning", "--bucket", bucket, check=True)
    assert json.loads(got.stdout)["Status"] == "Enabled"
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    listed = cloud.aws_cli("s3api", "list-object-versions", "--bucket", bucket, check=True)
    assert len(json.loads(listed.stdout)["Versions"]) == 2
