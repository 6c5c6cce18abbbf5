"""Empyrean against a live cloud: the service registry and cloud properties, as euserv uses them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e

NO_RETRY = Config(retries={"max_attempts": 1})


def _client(cloud: Cloud, service: str, path: str, key: str = "", secret: str = "") -> Any:
    return mallee_client(
        service,
        cloud.endpoint + path,
        region_name=REGION,
        aws_access_key_id=key or cloud.admin.access_key,
        aws_secret_access_key=secret or cloud.admin.secret_key,
        config=NO_RETRY,
    )


@pytest.fixture(scope="module")
def empyrean(cloud: Cloud) -> Any:
    return _client(cloud, "empyrean", "/services/Empyrean")


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_the_running_api_is_an_enabled_user_api(empyrean: Any) -> None:
    statuses = empyrean.describe_services(ByServiceType="user-api")["ServiceStatuses"]
    assert statuses, "the api server did not register itself"
    assert {s["LocalState"] for s in statuses} == {"ENABLED"}
    assert all(s["ServiceId"]["Type"] == "user-api" for s in statuses)


def test_register_modify_deregister(empyrean: Any) -> None:
    name = f"nc-{uuid.uuid4().hex[:8]}"
    registered = empyrean.register_service(
        Type="node", Name=name, Host="192.0.2.10", Partition="zone-e2e"
    )["RegisteredServices"]
    assert [s["Name"] for s in registered] == [name]
    try:
        (status,) = empyrean.describe_services(ServiceName=[name])["ServiceStatuses"]
        # Nothing runs under that name: pre-registered but never claimed.
        assert status["LocalState"] == "NOTREADY"
        assert status["ServiceId"]["Partition"] == "zone-e2e"
        assert empyrean.modify_service(Name=name, State="STOPPED")["Return"] is True
        (status,) = empyrean.describe_services(ServiceName=[name])["ServiceStatuses"]
        assert (status["LocalState"], status["LocalEpoch"]) == ("STOPPED", 1)
        with pytest.raises(ClientError) as err:
            empyrean.modify_service(Name=name, State="PAUSED")
        assert _code(err) == ("InvalidParameterValue", 400)
    finally:
        empyrean.deregister_service(Name=name)
    with pytest.raises(ClientError) as err:
        empyrean.describe_services(ServiceName=[name])
    assert _code(err) == ("NoSuchService", 404)


def test_service_types(empyrean: Any) -> None:
    available = empyrean.describe_available_service_types()["Available"]
    assert {"user-api", "controller", "node"} <= {t["ComponentName"] for t in available}


def test_properties_round_trip(empyrean: Any) -> None:
    name = "objectstorage.max_buckets_per_account"
    (prop,) = empyrean.describe_properties(Property=[name])["Properties"]
    assert prop["DefaultValue"] == "100" and prop["Description"]
    changed = empyrean.modify_property_value(Name=name, Value="42")
    assert (changed["Value"], changed["OldValue"]) == ("42", prop["Value"])
    try:
        (now,) = empyrean.describe_properties(Property=[name])["Properties"]
        assert now["Value"] == "42"
        with pytest.raises(ClientError) as err:
            empyrean.modify_property_value(Name=name, Value="forty-two")
        assert _code(err) == ("InvalidParameterValue", 400)
    finally:
        reset = empyrean.modify_property_value(Name=name, Reset=True)
    assert (reset["Value"], reset["OldValue"]) == ("100", "42")
    with pytest.raises(ClientError) as err:
        empyrean.modify_property_value(Name="cloud.no_such_thing", Value="1")
    assert _code(err) == ("NoSuchProperty", 404)


def test_only_the_cloud_admin_may_call_empyrean(cloud: Cloud) -> None:
    iam = _client(cloud, "iam", "/services/Euare")
    account = f"empyrean-{uuid.uuid4().hex[:8]}"
    iam.create_account(AccountName=account)
    key = iam.create_access_key(UserName="admin", DelegateAccount=account)["AccessKey"]
    outsider = _client(
        cloud, "empyrean", "/services/Empyrean", key["AccessKeyId"], key["SecretAccessKey"]
    )
    calls: list[Callable[[], object]] = [
        lambda: outsider.describe_services(),
        lambda: outsider.describe_properties(),
        lambda: outsider.modify_property_value(Name="cloud.vmstate.terminated_time", Value="1"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == ("AccessDenied", 403)
