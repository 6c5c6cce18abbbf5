"""Cloud properties: the catalog, typed values, reset, and refusal of bad values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from mallee.registry import components, properties
from mallee.registry.errors import RegistryError
from mallee.registry.proptypes import BadValue, PropertyDef
from mallee.store import Store
from mallee.store.tables.registry import PropertyRow


@pytest.mark.parametrize("prop", properties.CATALOG, ids=lambda p: p.name)
def test_catalog_defaults_are_valid_and_documented(prop: PropertyDef) -> None:
    assert prop.canonical(prop.default) == prop.default
    prop.typed(prop.default)
    assert prop.description.endswith(".")
    if prop.kind == "enum":
        assert prop.default in prop.choices


def test_catalog_names_are_unique() -> None:
    assert len(properties.PROPERTIES) == len(properties.CATALOG)


def test_describe_merges_defaults_with_stored_values(store: Store) -> None:
    properties.set_value(store, "authentication.access_keys_limit", "3")
    views = {v.name: v.value for v in properties.describe(store)}
    assert views["authentication.access_keys_limit"] == "3"
    assert views["objectstorage.providerclient"] == "fs"
    assert set(views) == set(properties.PROPERTIES)


def test_describe_by_name_and_subtree(store: Store) -> None:
    names = [v.name for v in properties.describe(store, ["cloud.vmstate"])]
    assert names and all(n.startswith("cloud.vmstate.") for n in names)
    assert [v.name for v in properties.describe(store, ["objectstorage.providerclient"])] == [
        "objectstorage.providerclient"
    ]
    # A prefix matches whole dotted components only.
    assert properties.describe(store, ["cloud.vm"]) == []
    assert properties.describe(store, ["no.such"]) == []


def test_int_values(store: Store) -> None:
    assert properties.set_value(store, "authentication.access_keys_limit", " 5 ") == ("2", "5")
    assert properties.get_int(store, "authentication.access_keys_limit") == 5
    for bad, why in (("two", "expected an integer"), ("101", "at most 100"), ("-1", "at least 0")):
        with pytest.raises(RegistryError) as err:
            properties.set_value(store, "authentication.access_keys_limit", bad)
        assert (err.value.code, err.value.status) == ("InvalidParameterValue", 400)
        assert "authentication.access_keys_limit" in err.value.message
        assert why in err.value.message
    assert properties.get_int(store, "authentication.access_keys_limit") == 5


def test_bool_values(store: Store) -> None:
    name = "cloud.addresses.dodynamicpublicaddresses"
    assert properties.get_bool(store, name) is True
    assert properties.set_value(store, name, "No") == ("true", "false")
    assert properties.get_bool(store, name) is False
    with pytest.raises(RegistryError) as err:
        properties.set_value(store, name, "maybe")
    assert "expected true or false" in err.value.message


def test_enum_values(store: Store) -> None:
    name = "objectstorage.providerclient"
    assert properties.set_value(store, name, "S3") == ("fs", "s3")
    assert properties.get_str(store, name) == "s3"
    with pytest.raises(RegistryError) as err:
        properties.set_value(store, name, "riakcs")
    assert "expected one of: fs, s3" in err.value.message


def test_duration_values(store: Store) -> None:
    name = "cloud.vmstate.instance_timeout"
    assert properties.get_duration(store, name) == timedelta(hours=12)
    assert properties.set_value(store, name, "2h") == ("720", "120")
    assert properties.set_value(store, name, "90") == ("120", "90")
    assert properties.get_duration(store, name) == timedelta(minutes=90)
    for bad in ("90s", "soon", "0", "1.5h"):
        with pytest.raises(RegistryError) as err:
            properties.set_value(store, name, bad)
        assert err.value.code == "InvalidParameterValue"


def test_string_and_json_values(store: Store) -> None:
    assert properties.set_value(store, "cloud.vmtypes.default_type_name", "t2.micro")[1] == (
        "t2.micro"
    )
    with pytest.raises(RegistryError):
        properties.set_value(store, "cloud.vmtypes.default_type_name", "huge")
    name = "cloud.network.network_configuration"
    text = '{\n  "InstanceDnsServers": ["10.1.0.1"]\n}'
    assert properties.set_value(store, name, text) == ("{}", text)
    assert properties.get_json(store, name) == {"InstanceDnsServers": ["10.1.0.1"]}
    for bad in ("{not json", "[1, 2]"):
        with pytest.raises(RegistryError) as err:
            properties.set_value(store, name, bad)
        assert err.value.code == "InvalidParameterValue"


def test_reset_restores_the_default(store: Store) -> None:
    name = "objectstorage.max_buckets_per_account"
    properties.set_value(store, name, "7")
    assert properties.reset(store, name) == ("7", "100")
    assert properties.get_property(store, name) == 100
    with store.read() as s:
        assert s.get(PropertyRow, name) is None
    assert properties.reset(store, name) == ("100", "100")


def test_unknown_property(store: Store) -> None:
    calls: list[Callable[[], object]] = [
        lambda: properties.set_value(store, "cloud.nope", "1"),
        lambda: properties.reset(store, "cloud.nope"),
    ]
    for call in calls:
        with pytest.raises(RegistryError) as err:
            call()
        assert (err.value.code, err.value.status) == ("NoSuchProperty", 404)
    with pytest.raises(KeyError):
        properties.get_property(store, "cloud.nope")


def test_a_stored_value_the_catalog_no_longer_accepts_reads_as_the_default(
    store: Store,
) -> None:
    with store.session() as s:
        s.add(PropertyRow(name="objectstorage.providerclient", value="walrus", updated_at=0.0))
    assert properties.get_str(store, "objectstorage.providerclient") == "fs"


def test_typed_getters_check_the_kind(store: Store) -> None:
    with pytest.raises(TypeError):
        properties.get_int(store, "objectstorage.providerclient")


def test_overlong_values_are_refused() -> None:
    prop = properties.PROPERTIES["cloud.network.network_configuration"]
    with pytest.raises(BadValue):
        prop.canonical('{"a": "' + "x" * 70000 + '"}')


@pytest.mark.parametrize("prop", properties.ZONE_CATALOG, ids=lambda p: p.name)
def test_zone_catalog_defaults_are_valid_and_documented(prop: PropertyDef) -> None:
    assert prop.canonical(prop.default) == prop.default
    assert prop.description.endswith(".")
    assert prop.name not in properties.PROPERTIES


def test_zone_properties_exist_for_the_zones_of_registered_services(store: Store) -> None:
    name = "one.storage.blockstoragemanager"
    # Read by the zone's own processes whatever is registered; the default until set.
    assert properties.get_str(store, name) == "overlay"
    with pytest.raises(RegistryError) as err:
        properties.set_value(store, name, "ceph-rbd")
    assert err.value.code == "NoSuchProperty"
    assert not [v for v in properties.describe(store) if ".storage." in v.name]

    components.register_self(store, type="storage", name="sc-one", host="h", port=8773,
                             partition="one")  # fmt: skip
    assert properties.set_value(store, name, "Ceph-RBD") == ("overlay", "ceph-rbd")
    assert properties.get_str(store, name) == "ceph-rbd"
    # Another zone's value is its own.
    assert properties.get_str(store, "two.storage.blockstoragemanager") == "overlay"
    listed = {v.name: v.value for v in properties.describe(store, ["one.storage"])}
    assert listed[name] == "ceph-rbd"
    assert listed["one.storage.cephvolumepools"] == "rbd"
    assert listed["one.storage.cephconfigfile"] == "/etc/ceph/ceph.conf"
    for prop, bad in (
        (name, "das"),
        ("one.storage.cephvolumepools", "rbd,,x"),
        ("one.storage.cephconfigfile", "ceph.conf"),
        ("one.storage.cephuser", "client eucalyptus"),
    ):
        with pytest.raises(RegistryError) as err:
            properties.set_value(store, prop, bad)
        assert err.value.code == "InvalidParameterValue", prop
    assert properties.reset(store, name) == ("ceph-rbd", "overlay")
    with pytest.raises(RegistryError):
        properties.set_value(store, "one.storage.nosuch", "1")
