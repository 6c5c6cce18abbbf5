"""botocore serializes real service calls; mallee must parse back exactly the same params."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mallee.api.models import load_service_model
from tests.unit.api.protocol.wire import parse_with_mallee

UTC = dt.UTC
WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
LATER = dt.datetime(2024, 5, 6, 8, 0, tzinfo=UTC)

METRIC_DATA = {
    "Namespace": "App/Web",
    "MetricData": [
        {
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Host", "Value": "h1"}, {"Name": "Zone", "Value": "z"}],
            "Timestamp": WHEN,
            "Value": 12.25,
            "Unit": "Milliseconds",
            "StorageResolution": 1,
        },
        {
            "MetricName": "Hits",
            "Values": [1.0, 2.5, 1e300],
            "Counts": [3.0, 1.0, 1.0],
            "StatisticValues": {"SampleCount": 5.0, "Sum": 9.5, "Minimum": 1.0, "Maximum": 2.5},
            "Timestamp": LATER,
        },
    ],
}
GET_METRIC_DATA = {
    "MetricDataQueries": [
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {
                    "Namespace": "App/Web",
                    "MetricName": "Latency",
                    "Dimensions": [{"Name": "Host", "Value": "h1"}],
                },
                "Period": 60,
                "Stat": "Average",
            },
            "ReturnData": True,
        },
        {"Id": "e1", "Expression": "m1 * 2", "ReturnData": False},
    ],
    "StartTime": WHEN,
    "EndTime": LATER,
    "ScanBy": "TimestampAscending",
    "MaxDatapoints": 100,
}
PUT_ALARM = {
    "AlarmName": "high",
    "ActionsEnabled": False,
    "AlarmActions": ["arn:aws:sns:r:1:t"],
    "MetricName": "Latency",
    "Namespace": "App/Web",
    "Statistic": "Average",
    "Dimensions": [{"Name": "Host", "Value": "h1"}],
    "Period": 60,
    "EvaluationPeriods": 3,
    "Threshold": 0.5,
    "ComparisonOperator": "GreaterThanThreshold",
    "Tags": [{"Key": "team", "Value": "web"}],
}

QUERY_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "iam",
        "query",
        "CreateUser",
        {"UserName": "bob", "Path": "/eng/", "Tags": [{"Key": "a", "Value": "b"}]},
    ),
    ("iam", "query", "ListUsers", {"PathPrefix": "/", "MaxItems": 50, "Marker": "m&=+"}),
    ("iam", "query", "CreateAccessKey", {}),
    ("iam", "query", "ListUsers", {}),
    (
        "iam",
        "query",
        "PutUserPolicy",
        {"UserName": "bob", "PolicyName": "p", "PolicyDocument": '{"Version": "2012-10-17"}'},
    ),
    (
        "sts",
        "query",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::1:role/r",
            "RoleSessionName": "sess",
            "DurationSeconds": 3600,
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnly"}],
            "Tags": [{"Key": "k", "Value": "v"}],
            "TransitiveTagKeys": ["k"],
        },
    ),
    ("sts", "query", "GetCallerIdentity", {}),
    ("cloudwatch", "query", "PutMetricData", METRIC_DATA),
    ("cloudwatch", "json", "PutMetricData", METRIC_DATA),
    ("cloudwatch", "smithy-rpc-v2-cbor", "PutMetricData", METRIC_DATA),
    ("cloudwatch", "query", "GetMetricData", GET_METRIC_DATA),
    ("cloudwatch", "json", "GetMetricData", GET_METRIC_DATA),
    ("cloudwatch", "smithy-rpc-v2-cbor", "GetMetricData", GET_METRIC_DATA),
    ("cloudwatch", "query", "PutMetricAlarm", PUT_ALARM),
    ("cloudwatch", "json", "PutMetricAlarm", PUT_ALARM),
    ("cloudwatch", "smithy-rpc-v2-cbor", "PutMetricAlarm", PUT_ALARM),
    (
        "sns",
        "query",
        "Publish",
        {
            "TopicArn": "arn:aws:sns:r:1:t",
            "Message": "hi",
            "MessageAttributes": {
                "bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
                "str": {"DataType": "String", "StringValue": "v"},
            },
        },
    ),
    (
        "sns",
        "query",
        "CreateTopic",
        {"Name": "t", "Attributes": {"DisplayName": "d", "Policy": "{}"}},
    ),
    (
        "ec2",
        "ec2",
        "RunInstances",
        {
            "ImageId": "emi-12345678",
            "MinCount": 1,
            "MaxCount": 2,
            "InstanceType": "m1.small",
            "KeyName": "k",
            "SecurityGroupIds": ["sg-1", "sg-2"],
            "UserData": "IyEvYmluL3NoCg==",
            "Placement": {"AvailabilityZone": "one"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 10, "DeleteOnTermination": True}},
                {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
            ],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}
            ],
            "DryRun": False,
        },
    ),
    (
        "ec2",
        "ec2",
        "AuthorizeSecurityGroupIngress",
        {
            "GroupId": "sg-1",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}],
                    "UserIdGroupPairs": [{"GroupId": "sg-2", "UserId": "123"}],
                }
            ],
        },
    ),
    (
        "ec2",
        "ec2",
        "DescribeInstances",
        {
            "Filters": [
                {"Name": "instance-state-name", "Values": ["running", "pending"]},
                {"Name": "tag:Name", "Values": ["web"]},
            ],
            "InstanceIds": ["i-1", "i-2"],
            "MaxResults": 10,
        },
    ),
    ("ec2", "ec2", "DescribeRegions", {"AllRegions": True, "RegionNames": ["r1"]}),
    ("ec2", "ec2", "ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": b"ssh-rsa AAAA"}),
    (
        "ec2",
        "ec2",
        "DescribeSpotPriceHistory",
        {"StartTime": WHEN, "EndTime": LATER, "InstanceTypes": ["m1.small"]},
    ),
]

S3_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "PutObject",
        {
            "Bucket": "bk",
            "Key": "dir/a b+c%d~é.txt",
            "Body": b"hello\x00world",
            "Metadata": {"owner": "bob", "x": "1"},
            "ContentType": "text/plain",
            "ContentLength": 11,
            "Expires": dt.datetime(2030, 1, 1, tzinfo=UTC),
            "StorageClass": "STANDARD",
            "ACL": "private",
        },
    ),
    (
        "CompleteMultipartUpload",
        {
            "Bucket": "bk",
            "Key": "k",
            "UploadId": "up-1",
            "MultipartUpload": {
                "Parts": [{"ETag": '"e1"', "PartNumber": 1}, {"ETag": '"e2"', "PartNumber": 2}]
            },
        },
    ),
    ("CreateMultipartUpload", {"Bucket": "bk", "Key": "k", "ContentType": "a/b"}),
    # The HTTP layer adds Content-Length, which is a modeled header member.
    (
        "UploadPart",
        {
            "Bucket": "bk",
            "Key": "k",
            "UploadId": "u",
            "PartNumber": 3,
            "Body": b"x",
            "ContentLength": 1,
        },
    ),
    (
        "UploadPartCopy",
        {"Bucket": "bk", "Key": "k", "UploadId": "u", "PartNumber": 3, "CopySource": "b/k"},
    ),
    (
        "CopyObject",
        {"Bucket": "bk", "Key": "k", "CopySource": "src/key", "MetadataDirective": "COPY"},
    ),
    (
        "ListObjectsV2",
        {
            "Bucket": "bk",
            "Prefix": "p/",
            "Delimiter": "/",
            "MaxKeys": 10,
            "StartAfter": "a",
            "FetchOwner": True,
        },
    ),
    ("ListObjects", {"Bucket": "bk", "Marker": "m", "MaxKeys": 5}),
    ("ListBuckets", {}),
    (
        "PutBucketTagging",
        {
            "Bucket": "bk",
            "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}, {"Key": "c", "Value": ""}]},
        },
    ),
    ("GetBucketTagging", {"Bucket": "bk"}),
    (
        "GetObject",
        {
            "Bucket": "bk",
            "Key": "k",
            "Range": "bytes=0-9",
            "IfModifiedSince": dt.datetime(2024, 1, 1, tzinfo=UTC),
            "VersionId": "v1",
            "ResponseContentType": "text/html",
            "PartNumber": 2,
        },
    ),
    ("HeadObject", {"Bucket": "bk", "Key": "k"}),
    ("HeadBucket", {"Bucket": "bk"}),
    ("DeleteObject", {"Bucket": "bk", "Key": "k"}),
    (
        "DeleteObjects",
        {
            "Bucket": "bk",
            "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}], "Quiet": True},
        },
    ),
    (
        "CreateBucket",
        {"Bucket": "bk", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
    ),
    ("CreateBucket", {"Bucket": "bk"}),
    ("PutBucketPolicy", {"Bucket": "bk", "Policy": '{"Statement": []}'}),
    ("GetBucketAnalyticsConfiguration", {"Bucket": "bk", "Id": "a1"}),
    ("ListBucketAnalyticsConfigurations", {"Bucket": "bk"}),
    (
        "PutObjectTagging",
        {"Bucket": "bk", "Key": "k", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}},
    ),
    (
        "PutBucketAcl",
        {
            "Bucket": "bk",
            "AccessControlPolicy": {
                "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}
                ],
                "Owner": {"ID": "abc"},
            },
        },
    ),
]


@pytest.mark.parametrize(("service", "protocol", "operation", "params"), QUERY_CASES)
def test_rpc_protocols(service: str, protocol: str, operation: str, params: dict[str, Any]) -> None:
    parsed = parse_with_mallee(load_service_model(service), operation, params, protocol)
    assert parsed.operation.name == operation
    assert parsed.params == params


@pytest.mark.parametrize(("operation", "params"), S3_CASES)
def test_s3(operation: str, params: dict[str, Any]) -> None:
    parsed = parse_with_mallee(load_service_model("s3"), operation, params, "rest-xml")
    assert parsed.operation.name == operation
    assert parsed.params == params
