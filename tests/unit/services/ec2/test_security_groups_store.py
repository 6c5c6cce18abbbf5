"""Security group rows: the default group (once, even racing), membership, and the network
generation every change bumps (node agents rebuild their firewalls when it moves)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from mallee.api.errors import ServiceError
from mallee.services.ec2 import security_groups as sg
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.network import (
    Ec2InstanceGroup,
    Ec2SecurityGroup,
    Ec2SecurityGroupRule,
    network_generation,
)

ACCOUNT = "123456789012"


@pytest.fixture
def db(store: Any) -> Store:
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="acct", created_at=dt.datetime.now(dt.UTC)))
    assert isinstance(store, Store)
    return store


def generation(store: Store) -> int:
    with store.read() as s:
        return network_generation(s)


def test_default_group_is_created_once_with_its_rules(db: Store) -> None:
    before = generation(db)
    with db.session() as s:
        first = sg.ensure_default(s, ACCOUNT).id
    assert generation(db) == before + 1
    with db.session() as s:
        assert sg.ensure_default(s, ACCOUNT).id == first
    assert generation(db) == before + 1
    with db.read() as s:
        rows = s.scalars(select(Ec2SecurityGroupRule).where(Ec2SecurityGroupRule.group_id == first))
        got = {(r.egress, r.protocol, r.cidr, r.peer_group_id, r.peer_account_id) for r in rows}
    # Members reach each other (self reference: peer = the group itself); egress anywhere.
    assert got == {(False, "-1", None, first, ACCOUNT), (True, "-1", "0.0.0.0/0", None, None)}


def test_racing_default_creation_reads_the_winner(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session() as s:
        winner = sg.ensure_default(s, ACCOUNT).id
    real = sg._named
    calls: list[str] = []

    def blind_once(s: Any, account: str, name: str) -> Ec2SecurityGroup | None:
        # The first look misses the row, as it would if another request committed it just then.
        calls.append(name)
        return None if len(calls) == 1 else real(s, account, name)

    monkeypatch.setattr(sg, "_named", blind_once)
    with db.session() as s:
        assert sg.ensure_default(s, ACCOUNT).id == winner
    with db.read() as s:
        count = len(
            s.scalars(select(Ec2SecurityGroup).where(Ec2SecurityGroup.account_id == ACCOUNT)).all()
        )
    assert count == 1 and len(calls) == 2


def _instance(s: Any, iid: str) -> None:
    s.add(
        Ec2Instance(
            id=iid,
            account_id=ACCOUNT,
            reservation_id="r-0123456789abcdef0",
            requester_arn=f"arn:aws:iam::{ACCOUNT}:root",
            launch_index=0,
            image_id="emi-01234567",
            instance_type="m1.small",
            cores=1,
            memory_mb=256,
            disk_gb=5,
            availability_zone="one",
            root_device_type="instance-store",
            root_device_name="/dev/sda1",
            state="pending",
            launch_time=dt.datetime.now(dt.UTC),
            state_changed_at=0.0,
        )
    )
    s.flush()


def test_membership_follows_launch_order_and_bumps(db: Store) -> None:
    iid = "i-0123456789abcdef0"
    with db.session() as s:
        default = sg.ensure_default(s, ACCOUNT)
        other = sg._new_group(s, ACCOUNT, "web", "web tier")
        groups = sg.launch_groups(s, ACCOUNT, ["web"], [default.id, other.id])
        assert [g.id for g in groups] == [other.id, default.id]
        assert sg.group_refs(groups) == [
            {"GroupName": "web", "GroupId": other.id},
            {"GroupName": "default", "GroupId": default.id},
        ]
        assert sg.launch_groups(s, ACCOUNT, [], []) == [default]
        _instance(s, iid)
    before = generation(db)
    with db.session() as s:
        sg.add_members(s, [iid], [other.id, default.id])
    assert generation(db) == before + 1
    with db.session() as s:
        sg.set_membership(s, iid, [default.id])
    assert generation(db) == before + 2
    with db.read() as s:
        rows = s.scalars(select(Ec2InstanceGroup).where(Ec2InstanceGroup.instance_id == iid)).all()
        assert [(r.group_id, r.position) for r in rows] == [(default.id, 0)]


def test_launch_groups_errors(db: Store) -> None:
    with db.session() as s:
        for names, ids, code in (
            (["nope"], [], "InvalidGroup.NotFound"),
            ([], ["sg-00000000000000000"], "InvalidGroup.NotFound"),
            ([], ["sg-zz"], "InvalidGroupId.Malformed"),
        ):
            with pytest.raises(ServiceError) as err:
                sg.launch_groups(s, ACCOUNT, names, ids)
            assert err.value.code == code
            assert (names or ids)[0] in err.value.message
