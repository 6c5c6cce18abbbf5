"""The Empyrean model: what botocore sends with it, and how it reads Eucalyptus' answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.stub import Stubber

from mallee.api.models import load_service_model, loader
from mallee.api.models.client import mallee_client
from tests.unit.services.empyrean.conftest import Wire


def test_model_is_found_by_the_loader() -> None:
    model = load_service_model("empyrean")
    assert model.protocol == "query"
    # The Version euca2ools and the eucalyptus-admin tools send.
    assert model.api_version == "eucalyptus"
    assert set(model.operation_names) == {
        "DescribeServices",
        "RegisterService",
        "DeregisterService",
        "ModifyService",
        "DescribeAvailableServiceTypes",
        "DescribeProperties",
        "ModifyPropertyValue",
    }


def test_describe_services_request_uses_eucalyptus_parameter_names(wire: Wire) -> None:
    body = wire.request_body(
        "DescribeServices",
        {
            "ServiceName": ["node-1", "node-2"],
            "ListAll": True,
            "ByServiceType": "node",
            "ByPartition": "zone-a",
            "Filter": [{"Name": "state", "Value": ["ENABLED", "DISABLED"]}],
        },
    ).decode()
    fields = dict(pair.split("=", 1) for pair in body.split("&"))
    assert fields == {
        "Action": "DescribeServices",
        "Version": "eucalyptus",
        "ServiceName.1": "node-1",
        "ServiceName.2": "node-2",
        "ListAll": "true",
        "ByServiceType": "node",
        "ByPartition": "zone-a",
        "Filter.1.Name": "state",
        "Filter.1.Value.1": "ENABLED",
        "Filter.1.Value.2": "DISABLED",
    }


def test_property_requests_use_eucalyptus_parameter_names(wire: Wire) -> None:
    body = wire.request_body("DescribeProperties", {"Property": ["cloud.vmstate"]}).decode()
    assert "Property.1=cloud.vmstate" in body
    body = wire.request_body("ModifyPropertyValue", {"Name": "a.b", "Reset": True}).decode()
    assert set(body.split("&")) == {
        "Action=ModifyPropertyValue",
        "Version=eucalyptus",
        "Name=a.b",
        "Reset=true",
    }


# What Eucalyptus 4 answers (its JiBX binding: object lists as <item>, string lists as
# <item><entry>); botocore must read it with our model exactly as it reads mallee's answers.
EUCALYPTUS_DESCRIBE_SERVICES = b"""<?xml version="1.0" encoding="UTF-8"?>
<euca:DescribeServicesResponseType xmlns:euca="http://msgs.eucalyptus.com/4.4.5">
  <euca:serviceStatuses>
    <euca:item>
      <euca:serviceId>
        <euca:partition>one</euca:partition>
        <euca:name>one-sc-1</euca:name>
        <euca:type>storage</euca:type>
        <euca:fullName>arn:euca:eucalyptus:one:storage:one-sc-1/</euca:fullName>
        <euca:uris><euca:item><euca:entry>http://10.1.1.1:8773/services/Storage</euca:entry>
        </euca:item></euca:uris>
        <euca:uri>http://10.1.1.1:8773/services/Storage</euca:uri>
      </euca:serviceId>
      <euca:localState>ENABLED</euca:localState>
      <euca:localEpoch>16</euca:localEpoch>
      <euca:details/>
    </euca:item>
  </euca:serviceStatuses>
</euca:DescribeServicesResponseType>"""


def test_botocore_reads_a_eucalyptus_describe_services_answer() -> None:
    op = load_service_model("empyrean").operation_model("DescribeServices")
    parsed = create_parser("query").parse(
        {"status_code": 200, "headers": {}, "body": EUCALYPTUS_DESCRIBE_SERVICES},
        op.output_shape,
    )
    (status,) = parsed["ServiceStatuses"]
    assert status["LocalState"] == "ENABLED"
    assert status["LocalEpoch"] == 16
    assert status["ServiceId"]["FullName"] == "arn:euca:eucalyptus:one:storage:one-sc-1/"
    assert status["ServiceId"]["Uris"] == [{"Entry": "http://10.1.1.1:8773/services/Storage"}]


def test_mallee_client_builds_a_boto3_client_from_our_model() -> None:
    client = mallee_client(
        "empyrean",
        "http://127.0.0.1:9/services/Empyrean",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    assert client.meta.service_model.api_version == "eucalyptus"
    expected: dict[str, Any] = {"Name": "a.b", "Reset": True}
    with Stubber(client) as stub:
        stub.add_response(
            "modify_property_value",
            {"Name": "a.b", "Value": "1", "OldValue": "2"},
            expected,
        )
        answer = client.modify_property_value(Name="a.b", Reset=True)
    assert (answer["Value"], answer["OldValue"]) == ("1", "2")
    assert client.exceptions.NoSuchServiceException is not None


def test_mallee_client_sees_mallee_patches_of_aws_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "patches").mkdir()
    patch = {
        "operations": {
            "CreateAccount": {
                "name": "CreateAccount",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "CreateAccountRequest"},
            }
        },
        "shapes": {
            "CreateAccountRequest": {
                "type": "structure",
                "required": ["AccountName"],
                "members": {"AccountName": {"shape": "userNameType"}},
            }
        },
    }
    (tmp_path / "patches" / "iam.json").write_text(json.dumps(patch))
    monkeypatch.setattr(loader, "DATA_DIR", tmp_path)
    loader.model_dict.cache_clear()
    try:
        client = mallee_client(
            "iam", "http://127.0.0.1:9/", aws_access_key_id="AKID", aws_secret_access_key="s"
        )
        assert "CreateAccount" in client.meta.service_model.operation_names
        assert "ListUsers" in client.meta.service_model.operation_names
        with Stubber(client) as stub:
            stub.add_response("create_account", {}, {"AccountName": "dev"})
            client.create_account(AccountName="dev")
    finally:
        loader.model_dict.cache_clear()
