"""mallee serializes real output shapes; botocore must parse back exactly the same dict."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mallee.api.models import load_service_model
from mallee.api.protocol import serializer_for
from mallee.api.protocol.frozen import Frozen
from tests.unit.api.protocol.wire import botocore_parse, response_roundtrip

UTC = dt.UTC
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
USER = {
    "Path": "/",
    "UserName": "bob",
    "UserId": "AIDA1",
    "Arn": "arn:aws:iam::1:user/bob",
    "CreateDate": WHEN,
    "Tags": [{"Key": "a<&>", "Value": 'q"uote'}],
}
METRIC_RESULTS = {
    "MetricDataResults": [
        {
            "Id": "m1",
            "Label": "Latency",
            "Timestamps": [WHEN, dt.datetime(2024, 5, 6, tzinfo=UTC)],
            "Values": [1.5, 2.0],
            "StatusCode": "Complete",
            "Messages": [{"Code": "c", "Value": "v"}],
        }
    ],
    "NextToken": "t",
    "Messages": [],
}
ALARMS = {
    "MetricAlarms": [
        {
            "AlarmName": "high",
            "ActionsEnabled": True,
            "AlarmActions": ["arn:a"],
            "StateValue": "ALARM",
            "StateUpdatedTimestamp": WHEN,
            "Dimensions": [{"Name": "Host", "Value": "h1"}],
            "Period": 60,
            "Threshold": 0.5,
            "EvaluationPeriods": 3,
        }
    ],
    "CompositeAlarms": [],
}
RESERVATIONS = {
    "Reservations": [
        {
            "ReservationId": "r-1",
            "OwnerId": "123",
            "Groups": [{"GroupId": "sg-1", "GroupName": "default"}],
            "Instances": [
                {
                    "InstanceId": "i-1",
                    "ImageId": "emi-1",
                    "State": {"Code": 16, "Name": "running"},
                    "LaunchTime": WHEN,
                    "Tags": [{"Key": "Name", "Value": "web"}],
                    "EbsOptimized": False,
                    "Placement": {"AvailabilityZone": "one"},
                    "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}],
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": "/dev/sda1",
                            "Ebs": {"VolumeId": "vol-1", "Status": "attached"},
                        }
                    ],
                }
            ],
        }
    ],
    "NextToken": "n",
}

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("iam", "query", "GetUser", {"User": USER}),
    ("iam", "query", "ListUsers", {"Users": [USER, USER], "IsTruncated": True, "Marker": "m"}),
    ("iam", "query", "ListUsers", {"Users": [], "IsTruncated": False}),
    (
        "sts",
        "query",
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "AKIA",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": WHEN,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROA:s",
                "Arn": "arn:aws:sts::1:assumed-role/r/s",
            },
            "PackedPolicySize": 6,
        },
    ),
    ("sts", "query", "GetCallerIdentity", {"UserId": "u", "Account": "123456789012", "Arn": "a"}),
    ("cloudwatch", "query", "GetMetricData", METRIC_RESULTS),
    ("cloudwatch", "json", "GetMetricData", METRIC_RESULTS),
    ("cloudwatch", "smithy-rpc-v2-cbor", "GetMetricData", METRIC_RESULTS),
    ("cloudwatch", "query", "DescribeAlarms", ALARMS),
    ("cloudwatch", "json", "DescribeAlarms", ALARMS),
    ("cloudwatch", "smithy-rpc-v2-cbor", "DescribeAlarms", ALARMS),
    ("ec2", "ec2", "DescribeInstances", RESERVATIONS),
    ("ec2", "ec2", "DescribeRegions", {"Regions": [{"RegionName": "r", "Endpoint": "e"}]}),
    (
        "ec2",
        "ec2",
        "CreateKeyPair",
        {"KeyName": "k", "KeyFingerprint": "f", "KeyMaterial": "-----"},
    ),
    ("ec2", "ec2", "AuthorizeSecurityGroupIngress", {"Return": True}),
    (
        "ec2",
        "ec2",
        "GetConsoleOutput",
        {"InstanceId": "i-1", "Output": "b2s=", "Timestamp": WHEN},
    ),
    (
        "sns",
        "query",
        "GetTopicAttributes",
        {"Attributes": {"DisplayName": "d", "Policy": "{}"}},
    ),
]

S3_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "ListObjectsV2",
        {
            "IsTruncated": False,
            "Contents": [
                {
                    "Key": "a&b",
                    "LastModified": WHEN,
                    "ETag": '"x"',
                    "Size": 3,
                    "StorageClass": "STANDARD",
                    "Owner": {"ID": "o", "DisplayName": "d"},
                }
            ],
            "Name": "bk",
            "Prefix": "",
            "MaxKeys": 1000,
            "KeyCount": 1,
            "CommonPrefixes": [{"Prefix": "p/"}],
        },
    ),
    (
        "ListBuckets",
        {
            "Buckets": [{"Name": "bk", "CreationDate": WHEN}],
            "Owner": {"ID": "o", "DisplayName": "d"},
        },
    ),
    (
        "GetBucketAcl",
        {
            "Owner": {"ID": "o"},
            "Grants": [
                {"Grantee": {"ID": "o", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"URI": "http://acs/AllUsers", "Type": "Group"}, "Permission": "READ"},
            ],
        },
    ),
    ("GetBucketTagging", {"TagSet": [{"Key": "a", "Value": "b"}]}),
    ("CreateMultipartUpload", {"Bucket": "bk", "Key": "k", "UploadId": "u1"}),
    (
        "CopyObject",
        {"CopyObjectResult": {"ETag": '"e"', "LastModified": WHEN}, "VersionId": "v1"},
    ),
    (
        "HeadObject",
        {
            "ContentLength": 4,
            "ETag": '"e"',
            "LastModified": dt.datetime(2024, 1, 1, tzinfo=UTC),
            "Metadata": {"owner": "bob"},
            "ContentType": "text/plain",
            "DeleteMarker": False,
        },
    ),
    ("PutObject", {"ETag": '"e"', "VersionId": "v"}),
    (
        "DeleteObjects",
        {
            "Deleted": [{"Key": "a"}, {"Key": "b", "VersionId": "v", "DeleteMarker": True}],
            "Errors": [{"Key": "c", "Code": "AccessDenied", "Message": "no"}],
        },
    ),
]


@pytest.mark.parametrize(("service", "protocol", "operation", "result"), CASES)
def test_rpc_protocols(service: str, protocol: str, operation: str, result: dict[str, Any]) -> None:
    op = load_service_model(service).operation_model(operation)
    assert response_roundtrip(protocol, op, result) == result


@pytest.mark.parametrize(("operation", "result"), S3_CASES)
def test_s3(operation: str, result: dict[str, Any]) -> None:
    op = load_service_model("s3").operation_model(operation)
    parsed = response_roundtrip("rest-xml", op, result)
    parsed.setdefault("Metadata", {})
    assert parsed == {"Metadata": {}, **result}


def test_s3_streaming_payload_and_headers() -> None:
    op = load_service_model("s3").operation_model("GetObject")
    result = {
        "Body": b"\x00binary\xff",
        "ContentLength": 8,
        "ContentRange": "bytes 0-7/100",
        "Metadata": {"owner": "bob"},
        "LastModified": dt.datetime(2024, 1, 1, tzinfo=UTC),
    }
    response = serializer_for("rest-xml").serialize(op, result, "rid")
    assert response.body == b"\x00binary\xff"
    assert response.headers["x-amz-meta-owner"] == "bob"
    assert response.headers["Last-Modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert response.headers["x-amz-request-id"] == "rid"
    response.body = b""  # botocore hands streaming bodies to the caller unparsed
    parsed = botocore_parse("rest-xml", op, response)
    assert parsed["ContentRange"] == "bytes 0-7/100"
    assert parsed["Metadata"] == {"owner": "bob"}
    assert parsed["ResponseMetadata"]["HostId"]


def test_s3_root_element_and_namespace() -> None:
    op = load_service_model("s3").operation_model("ListObjectsV2")
    body = serializer_for("rest-xml").serialize(op, {"Name": "bk"}, "r").body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ListObjectsV2Result')
    assert b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' in body


def test_query_envelope() -> None:
    op = load_service_model("iam").operation_model("GetUser")
    response = serializer_for("query").serialize(op, {"User": USER}, "rid-1")
    body = response.body.decode()
    assert body.startswith('<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert "<GetUserResult><User>" in body
    assert body.endswith(
        "<ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></GetUserResponse>"
    )


def test_json_and_cbor_headers() -> None:
    op = load_service_model("cloudwatch").operation_model("GetMetricData")
    json_response = serializer_for("json").serialize(op, METRIC_RESULTS, "r1")
    assert json_response.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json_response.headers["x-amzn-RequestId"] == "r1"
    cbor_response = serializer_for("smithy-rpc-v2-cbor").serialize(op, METRIC_RESULTS, "r2")
    assert cbor_response.headers["Content-Type"] == "application/cbor"
    assert cbor_response.headers["smithy-protocol"] == "rpc-v2-cbor"


def test_frozen_results_render_once_and_alike() -> None:
    op = load_service_model("ec2").operation_model("DescribeInstances")
    plain = RESERVATIONS["Reservations"][0]["Instances"][0]
    frozen = Frozen(plain)
    as_frozen = {"Reservations": [{**RESERVATIONS["Reservations"][0], "Instances": [frozen]}]}
    serializer = serializer_for("ec2")
    first = serializer.serialize(op, as_frozen, "r").body
    assert len(frozen.rendered) == 1
    assert serializer.serialize(op, as_frozen, "r").body == first
    assert response_roundtrip("ec2", op, as_frozen)["Reservations"][0]["Instances"] == [plain]
    with pytest.raises(TypeError):
        frozen["InstanceId"] = "i-2"
