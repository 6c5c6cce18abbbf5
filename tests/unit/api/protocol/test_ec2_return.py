"""EC2 operations the model gives no output answer <return>true</return>, as AWS does."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from botocore.parsers import create_parser

from mallee.api.models import load_service_model
from mallee.api.protocol import serializer_for

NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


@pytest.mark.parametrize("operation", ["RebootInstances", "ReleaseAddress", "CreateTags"])
def test_void_operations_answer_return_true(operation: str) -> None:
    op = load_service_model("ec2").operation_model(operation)
    assert op.output_shape is None
    response = serializer_for("ec2").serialize(op, {}, "rid")
    assert ET.fromstring(response.body).findtext(f"{NS}return") == "true"
    parsed = create_parser("ec2").parse(
        {"body": response.body, "headers": response.headers, "status_code": 200}, None
    )
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"


def test_operations_with_output_answer_their_members_only() -> None:
    op = load_service_model("ec2").operation_model("DescribeRegions")
    body = serializer_for("ec2").serialize(op, {"Regions": []}, "rid").body
    assert ET.fromstring(body).find(f"{NS}return") is None
