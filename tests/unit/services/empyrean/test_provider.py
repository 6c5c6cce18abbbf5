"""The Empyrean operations over the wire: botocore request -> mallee -> XML -> botocore."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from mallee.registry import components
from mallee.services.empyrean.provider import EmpyreanProvider
from mallee.store import Store
from tests.unit.services.empyrean.conftest import Wire


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _running(store: Store, type: str, name: str, partition: str = "") -> str:
    return components.register_self(
        store, type=type, name=name, host="10.0.0.1", port=8773, partition=partition
    )


def _names(answer: dict[str, object]) -> list[str]:
    statuses = answer.get("ServiceStatuses") or []
    assert isinstance(statuses, list)
    return [s["ServiceId"]["Name"] for s in statuses]


def test_provider_declares_admin_only_euserv() -> None:
    assert EmpyreanProvider.service == "empyrean"
    assert EmpyreanProvider.action_prefix == "euserv"
    assert EmpyreanProvider.admin_operations == frozenset({"*"})


def test_describe_services_shows_a_running_api(store: Store, wire: Wire) -> None:
    sid = _running(store, "user-api", "API_1", partition="eucalyptus")
    (status,) = wire.call("DescribeServices")["ServiceStatuses"]
    assert status["LocalState"] == "ENABLED"
    assert status["LocalEpoch"] == 0
    assert status["ServiceId"] == {
        "Uuid": sid,
        # A zone-less service is its own partition, in the bootstrap namespace (the seed).
        "Partition": "API_1",
        "Name": "API_1",
        "Type": "user-api",
        "FullName": "arn:euca:bootstrap:API_1:user-api:API_1/",
        "Uris": [{"Entry": "http://10.0.0.1:8773/"}],
        "Uri": "http://10.0.0.1:8773/",
        "Host": "10.0.0.1",
    }


def test_nodes_are_listed_when_asked_for(store: Store, wire: Wire) -> None:
    _running(store, "user-api", "API_1")
    _running(store, "node", "node-1", "zone-a")
    assert _names(wire.call("DescribeServices")) == ["API_1"]
    assert _names(wire.call("DescribeServices", ListAll=True)) == ["node-1", "API_1"]
    assert _names(wire.call("DescribeServices", ByServiceType="node")) == ["node-1"]
    assert _names(wire.call("DescribeServices", ServiceName=["node-1"])) == ["node-1"]
    answer = wire.call(
        "DescribeServices", Filter=[{"Name": "availability-zone", "Value": ["zone-a"]}]
    )
    assert _names(answer) == []  # a zone filter alone does not unhide nodes
    answer = wire.call(
        "DescribeServices",
        ListAll=True,
        Filter=[{"Name": "availability-zone", "Value": ["zone-a"]}],
    )
    assert _names(answer) == ["node-1"]


def test_describe_services_filters(store: Store, wire: Wire) -> None:
    _running(store, "user-api", "API_1")
    _running(store, "controller", "clc-1")
    wire.call("RegisterService", Type="storage", Name="sc-1", Host="10.0.0.9", Partition="z1")
    wire.call("ModifyService", Name="clc-1", State="DISABLED")
    assert _names(wire.call("DescribeServices", ByState="notready")) == ["sc-1"]
    assert _names(wire.call("DescribeServices", ByHost="10.0.0.9")) == ["sc-1"]
    assert _names(wire.call("DescribeServices", ByPartition="z1")) == ["sc-1"]
    state = [{"Name": "state", "Value": ["enabled", "disabled"]}]
    assert _names(wire.call("DescribeServices", Filter=state)) == ["clc-1", "API_1"]
    public = [{"Name": "public", "Value": ["true"]}]
    assert _names(wire.call("DescribeServices", Filter=public)) == ["API_1"]
    assert _names(wire.call("DescribeServices", ListUserServices=True)) == ["API_1"]


def test_show_events_explains_states(store: Store, wire: Wire) -> None:
    wire.call("RegisterService", Type="controller", Name="clc-2", Host="h2")
    (status,) = wire.call("DescribeServices", ShowEvents=True)["ServiceStatuses"]
    assert status["LocalState"] == "NOTREADY"
    (detail,) = status["StatusDetails"]
    assert detail["Severity"] == "ERROR"
    assert "no process with this name has started" in detail["Message"]
    assert status["Details"] == [{"Entry": detail["Message"]}]


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"ServiceName": ["ghost"]}, "NoSuchService", 404),
        ({"ByServiceType": "hypervisor"}, "InvalidParameterValue", 400),
        ({"ByState": "SLEEPY"}, "InvalidParameterValue", 400),
        ({"Filter": [{"Name": "colour", "Value": ["red"]}]}, "InvalidParameterValue", 400),
    ],
)
def test_describe_services_errors(
    wire: Wire, params: dict[str, object], code: str, status: int
) -> None:
    with pytest.raises(ClientError) as err:
        wire.call("DescribeServices", **params)
    assert _error(err) == (code, status)


def test_register_modify_deregister_round_trip(store: Store, wire: Wire) -> None:
    answer = wire.call("RegisterService", Type="node", Name="nc-1", Host="10.2.0.1", Partition="z")
    assert answer["Return"] is True
    (registered,) = answer["RegisteredServices"]
    assert (registered["Name"], registered["Uri"]) == ("nc-1", "http://10.2.0.1:8775/")
    with pytest.raises(ClientError) as err:
        wire.call("RegisterService", Type="node", Name="nc-1", Host="10.2.0.1", Partition="z")
    assert _error(err) == ("ServiceAlreadyExists", 409)

    # The node agent starting on that host claims the registration.
    components.register_self(
        store, type="node", name="nc-1", host="10.2.0.1", port=8775, now=time.time()
    )
    assert wire.call("ModifyService", Name="nc-1", State="DISABLE") == {"Return": True}
    (status,) = wire.call("DescribeServices", ServiceName=["nc-1"])["ServiceStatuses"]
    assert (status["LocalState"], status["LocalEpoch"]) == ("DISABLED", 1)
    assert components.enabled_services(store, "node") == []

    gone = wire.call("DeregisterService", Name="nc-1")
    assert [s["Name"] for s in gone["DeregisteredServices"]] == ["nc-1"]
    with pytest.raises(ClientError) as err:
        wire.call("ModifyService", Name="nc-1", State="ENABLED")
    assert _error(err) == ("NoSuchService", 404)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Type": "hypervisor", "Name": "x", "Host": "h"}, "InvalidParameterValue"),
        ({"Type": "node", "Name": "x", "Host": "h"}, "InvalidParameterValue"),
        (
            {"Type": "node", "Name": "x", "Host": "h", "Partition": "z", "Port": 0},
            "InvalidParameterValue",
        ),
    ],
)
def test_register_service_errors(wire: Wire, params: dict[str, object], code: str) -> None:
    with pytest.raises(ClientError) as err:
        wire.call("RegisterService", **params)
    assert _error(err) == (code, 400)


def test_modify_service_bad_state(store: Store, wire: Wire) -> None:
    _running(store, "controller", "clc-1")
    with pytest.raises(ClientError) as err:
        wire.call("ModifyService", Name="clc-1", State="HIBERNATE")
    assert _error(err) == ("InvalidParameterValue", 400)


def test_describe_available_service_types(wire: Wire) -> None:
    types = {t["ComponentName"]: t for t in wire.call("DescribeAvailableServiceTypes")["Available"]}
    assert {"user-api", "controller", "node", "storage"} <= set(types)
    node = types["node"]
    assert (node["Partitioned"], node["Registerable"], node["ComponentCapitalizedName"]) == (
        True,
        True,
        "Node",
    )
    assert types["user-api"]["PublicApiService"] is True


def test_properties_round_trip(wire: Wire) -> None:
    props = wire.call("DescribeProperties", Property=["authentication.access_keys_limit"])
    assert props["Properties"] == [
        {
            "Name": "authentication.access_keys_limit",
            "Value": "2",
            "Description": "Access keys each IAM user (and each account's root) may have.",
            "DefaultValue": "2",
        }
    ]
    answer = wire.call("ModifyPropertyValue", Name="authentication.access_keys_limit", Value="4")
    assert answer == {"Name": "authentication.access_keys_limit", "Value": "4", "OldValue": "2"}
    answer = wire.call("ModifyPropertyValue", Name="authentication.access_keys_limit", Reset=True)
    assert answer == {"Name": "authentication.access_keys_limit", "Value": "2", "OldValue": "4"}
    everything = wire.call("DescribeProperties")["Properties"]
    assert len(everything) > 10
    assert [p["Name"] for p in everything] == sorted(p["Name"] for p in everything)


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"Name": "cloud.nope", "Value": "1"}, "NoSuchProperty", 404),
        (
            {"Name": "authentication.access_keys_limit", "Value": "lots"},
            "InvalidParameterValue",
            400,
        ),
        (
            {"Name": "authentication.access_keys_limit", "Value": "1", "Reset": True},
            "InvalidParameterCombination",
            400,
        ),
        ({"Name": "authentication.access_keys_limit"}, "MissingParameter", 400),
    ],
)
def test_modify_property_value_errors(
    wire: Wire, params: dict[str, object], code: str, status: int
) -> None:
    with pytest.raises(ClientError) as err:
        wire.call("ModifyPropertyValue", **params)
    assert _error(err) == (code, status)


def test_an_empty_value_is_a_value(wire: Wire) -> None:
    # euctl sends NAME= as an empty Value; for a string property that is a real (bad) value.
    with pytest.raises(ClientError) as err:
        wire.call("ModifyPropertyValue", Name="cloud.vmtypes.default_type_name", Value="")
    assert _error(err) == ("InvalidParameterValue", 400)
