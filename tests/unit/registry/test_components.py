"""Service registry states: heartbeats, claims of pre-registered services, admin states."""

from __future__ import annotations

import pytest

from mallee.registry import components
from mallee.registry.errors import RegistryError
from mallee.store import Store

T0 = 1_000_000.0
TIMEOUT = 30.0


def _state(store: Store, name: str, now: float) -> str:
    found = [r for r in components.list_services(store, now=now, timeout=TIMEOUT) if r.name == name]
    assert len(found) == 1
    return found[0].state


def _self(store: Store, name: str = "node-1", host: str = "10.0.0.5", now: float = T0) -> str:
    return components.register_self(
        store, type="node", name=name, host=host, port=8775, partition="zone-a", now=now
    )


def test_a_running_component_is_enabled(store: Store) -> None:
    sid = _self(store)
    record = components.get_service(store, sid, now=T0 + 5, timeout=TIMEOUT)
    assert record is not None
    assert (record.state, record.type, record.partition) == ("ENABLED", "node", "zone-a")
    assert record.full_name == "arn:euca:eucalyptus:zone-a:node:node-1/"
    assert record.uri == "http://10.0.0.5:8775/"
    assert components.is_enabled(store, sid, now=T0 + 5, timeout=TIMEOUT)


def test_missed_heartbeats_show_notready_until_the_next_one(store: Store) -> None:
    sid = _self(store)
    assert _state(store, "node-1", T0 + TIMEOUT) == "ENABLED"
    assert _state(store, "node-1", T0 + TIMEOUT + 1) == "NOTREADY"
    record = components.get_service(store, sid, now=T0 + 100, timeout=TIMEOUT)
    assert record is not None and "last heartbeat 100s ago" in record.details[0]
    assert not components.is_enabled(store, sid, now=T0 + 100, timeout=TIMEOUT)
    assert components.heartbeat(store, sid, now=T0 + 100)
    assert _state(store, "node-1", T0 + 110) == "ENABLED"


def test_a_fault_reported_with_the_heartbeat_is_broken(store: Store) -> None:
    sid = _self(store)
    components.heartbeat(store, sid, fault="qemu-system-x86_64 not found", now=T0 + 1)
    record = components.get_service(store, sid, now=T0 + 2, timeout=TIMEOUT)
    assert record is not None
    assert (record.state, record.details) == ("BROKEN", ("qemu-system-x86_64 not found",))
    components.heartbeat(store, sid, now=T0 + 3)
    assert _state(store, "node-1", T0 + 4) == "ENABLED"


def test_preregistered_service_is_notready_until_claimed(store: Store) -> None:
    pre = components.register_service(
        store, type="node", name="node-7", host="10.0.0.7", partition="zone-b", now=T0
    )
    assert pre.state == "NOTREADY" and pre.port == 8775
    assert "no process with this name has started" in pre.details[0]
    sid = components.register_self(
        store, type="node", name="node-7", host="10.0.0.7", port=9000, now=T0 + 50
    )
    assert sid == pre.id
    record = components.get_service(store, sid, now=T0 + 51, timeout=TIMEOUT)
    assert record is not None
    # The running process reports where it really listens; the admin's zone stays.
    assert (record.state, record.port, record.partition) == ("ENABLED", 9000, "zone-b")


def test_claim_must_match_the_registered_type(store: Store) -> None:
    components.register_service(store, type="storage", name="sc-1", host="h", partition="z")
    with pytest.raises(RegistryError) as err:
        _self(store, name="sc-1")
    assert (err.value.code, err.value.status) == ("InvalidParameterValue", 400)


def test_a_live_name_cannot_be_claimed_from_another_host(store: Store) -> None:
    sid = _self(store, host="10.0.0.5")
    # The same host may claim again (a restart, or several workers of one server).
    assert _self(store, host="10.0.0.5", now=T0 + 1) == sid
    with pytest.raises(RegistryError) as err:
        _self(store, host="10.0.0.6", now=T0 + 2)
    assert (err.value.code, err.value.status) == ("ServiceAlreadyExists", 409)
    # Once the holder is gone, another host takes over the name.
    assert _self(store, host="10.0.0.6", now=T0 + 2 + TIMEOUT * 2) == sid


def test_modify_service_sets_admin_states(store: Store) -> None:
    sid = _self(store)
    rec = components.modify_service(store, "node-1", "DISABLED", now=T0 + 1, timeout=TIMEOUT)
    assert (rec.state, rec.epoch) == ("DISABLED", 1)
    assert not components.is_enabled(store, sid, now=T0 + 1, timeout=TIMEOUT)
    # Eucalyptus' transition names are accepted, in any case.
    rec = components.modify_service(store, "node-1", "stop", now=T0 + 2, timeout=TIMEOUT)
    assert (rec.state, rec.epoch) == ("STOPPED", 2)
    # STOPPED wins over a live heartbeat.
    components.heartbeat(store, sid, now=T0 + 3)
    assert _state(store, "node-1", T0 + 4) == "STOPPED"
    rec = components.modify_service(store, "node-1", "START", now=T0 + 5, timeout=TIMEOUT)
    assert (rec.state, rec.epoch) == ("ENABLED", 3)
    # Asking for the state it is already in changes nothing.
    rec = components.modify_service(store, "node-1", "ENABLE", now=T0 + 6, timeout=TIMEOUT)
    assert rec.epoch == 3


@pytest.mark.parametrize("state", ["PAUSED", "NOTREADY", "BROKEN", ""])
def test_modify_service_refuses_other_states(store: Store, state: str) -> None:
    _self(store)
    with pytest.raises(RegistryError) as err:
        components.modify_service(store, "node-1", state)
    assert (err.value.code, err.value.status) == ("InvalidParameterValue", 400)
    assert "ENABLED" in err.value.message


def test_modify_unknown_service(store: Store) -> None:
    with pytest.raises(RegistryError) as err:
        components.modify_service(store, "nope", "ENABLED")
    assert (err.value.code, err.value.status) == ("NoSuchService", 404)


def test_enabled_services_is_what_a_scheduler_may_use(store: Store) -> None:
    _self(store, name="node-1")
    _self(store, name="node-2", host="10.0.0.6")
    _self(store, name="node-3", host="10.0.0.7")
    components.register_self(
        store, type="node", name="node-4", host="h4", port=1, partition="z", now=T0
    )
    components.modify_service(store, "node-2", "DISABLED")
    components.heartbeat(store, _self(store, name="node-3", host="10.0.0.7"), now=T0 - 60)
    names = [
        r.name for r in components.enabled_services(store, "node", now=T0 + 1, timeout=TIMEOUT)
    ]
    # node-2 is disabled, node-3 stopped heartbeating a minute ago.
    assert names == ["node-1", "node-4"]
    zone = components.enabled_services(
        store, "node", partition="zone-a", now=T0 + 1, timeout=TIMEOUT
    )
    assert [r.name for r in zone] == ["node-1"]


def test_deregister(store: Store) -> None:
    sid = _self(store)
    with pytest.raises(RegistryError) as err:
        components.deregister_service(store, "node-1", type="storage")
    assert err.value.code == "NoSuchService"
    gone = components.deregister_service(store, "node-1", type="node")
    assert gone.id == sid
    assert components.list_services(store) == []
    # The process learns from its next heartbeat that it is no longer part of the cloud.
    assert components.heartbeat(store, sid) is False
    with pytest.raises(RegistryError) as err:
        components.deregister_service(store, "node-1")
    assert (err.value.code, err.value.status) == ("NoSuchService", 404)


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"type": "hypervisor"}, "InvalidParameterValue", 400),
        ({"partition": ""}, "InvalidParameterValue", 400),
        ({"port": 70000}, "InvalidParameterValue", 400),
        ({"name": "bad name"}, "InvalidParameterValue", 400),
        ({"host": "h;rm -rf"}, "InvalidParameterValue", 400),
    ],
)
def test_register_service_validates(
    store: Store, kwargs: dict[str, object], code: str, status: int
) -> None:
    args: dict[str, object] = {
        "type": "node",
        "name": "n1",
        "host": "10.1.1.1",
        "port": 8775,
        "partition": "z",
    }
    args.update(kwargs)
    with pytest.raises(RegistryError) as err:
        components.register_service(store, **args)  # type: ignore[arg-type]
    assert (err.value.code, err.value.status) == (code, status)


def test_register_service_twice(store: Store) -> None:
    components.register_service(store, type="controller", name="clc", host="h")
    with pytest.raises(RegistryError) as err:
        components.register_service(store, type="controller", name="clc", host="h")
    assert (err.value.code, err.value.status) == ("ServiceAlreadyExists", 409)


def test_default_timeout_follows_the_environment(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = _self(store, now=T0)
    monkeypatch.setenv("MALLEE_HEARTBEAT_TIMEOUT", "300")
    assert components.is_enabled(store, sid, now=T0 + 200)
    monkeypatch.setenv("MALLEE_HEARTBEAT_TIMEOUT", "100")
    assert not components.is_enabled(store, sid, now=T0 + 200)


def test_registration_is_seen_by_another_process(store: Store) -> None:
    sid = _self(store)
    other = Store(store.url)
    try:
        assert components.is_enabled(other, sid, now=T0 + 1, timeout=TIMEOUT)
        components.modify_service(other, "node-1", "DISABLED")
    finally:
        other.dispose()
    assert not components.is_enabled(store, sid, now=T0 + 1, timeout=TIMEOUT)
