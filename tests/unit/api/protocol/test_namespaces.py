"""Every answer carries the XML namespace AWS sends, byte for byte: namespace-aware parsers
(Libcloud's drivers, ElementTree with {ns} paths) find nothing under any other."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mallee.api.errors import ServiceError
from mallee.api.models import load_service_model
from mallee.api.protocol import serializer_for

# What AWS answers (note the trailing slashes: botocore's EC2 model omits it).
AWS_NAMESPACES = {
    ("ec2", "DescribeRegions"): "http://ec2.amazonaws.com/doc/2016-11-15/",
    ("iam", "ListUsers"): "https://iam.amazonaws.com/doc/2010-05-08/",
    ("sts", "GetCallerIdentity"): "https://sts.amazonaws.com/doc/2011-06-15/",
    ("s3", "ListBuckets"): "http://s3.amazonaws.com/doc/2006-03-01/",
}


@pytest.mark.parametrize(("service", "operation"), sorted(AWS_NAMESPACES))
def test_answers_carry_the_namespace_aws_sends(service: str, operation: str) -> None:
    model = load_service_model(service)
    op = model.operation_model(operation)
    result = {"Buckets": []} if service == "s3" else {}
    body = serializer_for(model.protocol).serialize(op, result, "rid").body
    namespace = ET.fromstring(body).tag[1:].partition("}")[0]
    assert namespace == AWS_NAMESPACES[service, operation]


def test_ec2_answer_is_found_by_a_namespace_aware_parser() -> None:
    model = load_service_model("ec2")
    op = model.operation_model("DescribeRegions")
    result = {"Regions": [{"RegionName": "eucalyptus", "Endpoint": "x"}]}
    body = serializer_for("ec2").serialize(op, result, "rid").body
    ns = {"ec2": AWS_NAMESPACES["ec2", "DescribeRegions"]}
    names = ET.fromstring(body).findall("ec2:regionInfo/ec2:item/ec2:regionName", ns)
    assert [n.text for n in names] == ["eucalyptus"]


def test_query_errors_carry_the_namespace() -> None:
    model = load_service_model("iam")
    error = ServiceError("NoSuchEntity", "no", 404)
    body = serializer_for("query").serialize_error(error, model, None, "rid").body
    assert ET.fromstring(body).tag == f"{{{AWS_NAMESPACES['iam', 'ListUsers']}}}ErrorResponse"
