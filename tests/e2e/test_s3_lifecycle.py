"""S3 lifecycle: the configuration API through boto3 and the AWS CLI, and its application by
the controller's lifecycle pass, run here against the live cloud's database with a `now` days
in the future (the cloud's own controller runs it too, with the real clock: harmless)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.config import Settings
from mallee.controller import lifecycle
from mallee.services.s3.data import INLINE_MAX
from mallee.store import Store
from tests.e2e.conftest import Cloud
from tests.e2e.s3util import code

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud_store(cloud: Cloud) -> Iterator[tuple[Store, Settings]]:
    """The live cloud's own database (SQLite in its data dir, as the e2e fixture makes it)."""
    if cloud.data_dir is None or os.environ.get("MALLEE_TEST_DB", "sqlite") != "sqlite":
        pytest.skip("needs the local cloud's SQLite database")
    store = Store(f"sqlite:///{cloud.data_dir / 'mallee.db'}")
    yield store, Settings(data_dir=cloud.data_dir)
    store.dispose()


def put_rules(s3: Any, bucket: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def blob_count(data_dir: Path) -> int:
    """Blobs of the fs backend (0 when the cloud keeps its objects in an S3 server)."""
    return sum(1 for p in (data_dir / "objects").rglob("*") if p.is_file() and len(p.name) == 32)


def test_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(err) == ("NoSuchLifecycleConfiguration", 404)
    midnight = datetime(2030, 1, 1, tzinfo=UTC)
    put_rules(
        s3,
        bucket,
        {
            "ID": "logs",
            "Status": "Enabled",
            "Filter": {"Prefix": "logs/"},
            "Expiration": {"Days": 7},
        },
        {
            "ID": "dated",
            "Status": "Disabled",
            "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "t", "Value": "1"}]}},
            "Expiration": {"Date": midnight},
        },
        {
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        },
    )
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0] == {
        "ID": "logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 7},
    }
    assert rules[1]["Expiration"]["Date"] == midnight
    assert rules[1]["Filter"]["And"]["Tags"] == [{"Key": "t", "Value": "1"}]
    assert rules[2]["ID"]  # made up, as S3 does
    assert rules[2]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(err) == ("NoSuchLifecycleConfiguration", 404)


BASE: dict[str, Any] = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({**BASE, "Expiration": {"Days": 0}}, "InvalidArgument"),
        ({**BASE, "Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)}}, "InvalidArgument"),
        ({**BASE, "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}, "MalformedXML"),
        ({**BASE, "Status": "Maybe", "Expiration": {"Days": 1}}, "MalformedXML"),
        ({**BASE, "Prefix": "x", "Expiration": {"Days": 1}}, "MalformedXML"),
        ({"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}}, "MalformedXML"),
        ({**BASE, "Filter": {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}}, "MalformedXML"),
        (BASE, "InvalidRequest"),
        ({**BASE, "ID": "x" * 256, "Expiration": {"Days": 1}}, "InvalidArgument"),
        ({**BASE, "NoncurrentVersionExpiration": {"NoncurrentDays": 0}}, "InvalidArgument"),
        ({**BASE, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 0}}, "InvalidArgument"),
        (
            {
                **BASE,
                "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            "InvalidRequest",
        ),
    ],
)
def test_invalid_rules(s3: Any, bucket: str, rule: dict[str, Any], expected: str) -> None:
    with pytest.raises(ClientError) as err:
        put_rules(s3, bucket, rule)
    assert code(err) == (expected, 400)


def test_duplicate_rule_ids(s3: Any, bucket: str) -> None:
    rule = {**BASE, "Expiration": {"Days": 1}}
    with pytest.raises(ClientError) as err:
        put_rules(s3, bucket, rule, rule)
    assert code(err) == ("InvalidArgument", 400)


def test_aws_cli_lifecycle(cloud: Cloud, bucket: str, tmp_path: Path) -> None:
    config = {
        "Rules": [{"ID": "tmp", "Status": "Enabled", "Prefix": "tmp/", "Expiration": {"Days": 1}}]
    }
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(config))
    cloud.aws_cli(
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        bucket,
        "--lifecycle-configuration",
        f"file://{path}",
        check=True,
    )
    got = cloud.aws_cli(
        "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=True
    )
    assert json.loads(got.stdout)["Rules"] == config["Rules"]
    cloud.aws_cli("s3api", "delete-bucket-lifecycle", "--bucket", bucket, check=True)


def test_expiration_in_unversioned_bucket(
    s3: Any, bucket: str, cloud_store: tuple[Store, Settings]
) -> None:
    store, settings = cloud_store
    # Just too big to be kept inline, so each object has a blob whose removal shows below.
    size = INLINE_MAX + 1
    for key in ("logs/a", "logs/big", "keep/b", "logs/tagged"):
        s3.put_object(
            Bucket=bucket, Key=key, Body=b"x" * (size + 100 if key == "logs/big" else size)
        )
    s3.put_object(Bucket=bucket, Key="tagged/c", Body=b"x" * size, Tagging="expire=yes")
    put_rules(
        s3,
        bucket,
        {
            "ID": "logs",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "logs/", "ObjectSizeLessThan": size + 50}},
            "Expiration": {"Days": 2},
        },
        {
            "ID": "tags",
            "Status": "Enabled",
            "Filter": {"Tag": {"Key": "expire", "Value": "yes"}},
            "Expiration": {"Days": 2},
        },
        {"ID": "off", "Status": "Disabled", "Prefix": "keep/", "Expiration": {"Days": 1}},
    )
    before = blob_count(settings.data_dir)
    now = datetime.now(UTC)
    lifecycle.run(store, settings, now=now + timedelta(days=1))
    assert len(keys(s3, bucket)) == 5  # not yet due
    done = lifecycle.run(store, settings, now=now + timedelta(days=3))
    assert done.expired == 3
    assert keys(s3, bucket) == ["keep/b", "logs/big"]
    if before:
        # The freed blobs are gone from the backend too.
        assert blob_count(settings.data_dir) == before - 3
    # Nothing is left to do: a second pass changes nothing.
    assert lifecycle.run(store, settings, now=now + timedelta(days=3)).expired == 0


def test_versioned_expiration_and_noncurrent_versions(
    s3: Any, bucket: str, cloud_store: tuple[Store, Settings]
) -> None:
    store, settings = cloud_store
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    put_rules(
        s3,
        bucket,
        {"ID": "current", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 2}},
        {
            "ID": "old",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
        },
        {
            "ID": "markers",
            "Status": "Enabled",
            "Filter": {},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    )
    now = datetime.now(UTC)
    done = lifecycle.run(store, settings, now=now + timedelta(days=3))
    # The current version is hidden behind a marker; v1 (noncurrent since v2) is removed;
    # v2 has only just become noncurrent.
    assert (done.expired, done.noncurrent) == (1, 1)
    out = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in out["Versions"]] == [v2]
    assert [m["IsLatest"] for m in out["DeleteMarkers"]] == [True]
    assert keys(s3, bucket) == []
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v1)

    lifecycle.run(store, settings, now=now + timedelta(days=6))
    # v2 went; then the marker was the key's only version, an expired delete marker.
    out = s3.list_object_versions(Bucket=bucket)
    assert out.get("Versions", []) == [] and out.get("DeleteMarkers", []) == []
    s3.delete_bucket(Bucket=bucket)
