"""A recording stand-in for the internal call the group engine is given, and the rows its tests
write where the Auto Scaling API would."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from mallee.cloud_identity import system_account_id
from mallee.controller.alarm_actions import ActionFailed
from mallee.ids import new_id
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.autoscaling import (
    AsActivity,
    AsGroup,
    AsInstance,
    AsLaunchConfiguration,
    AsTag,
)
from mallee.store.tables.ec2 import Ec2Instance


@dataclass
class FakeCalls:
    """EC2 and ELB as far as the engine uses them: RunInstances writes a pending instance row
    (idempotent on ClientToken, as EC2's), TerminateInstances moves it to shutting-down."""

    store: Store
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # operation -> (code, message) it fails with
    failing: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __call__(
        self, account_id: str, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        self.calls.append((service, operation, params))
        if operation in self.failing:
            raise ActionFailed(*self.failing[operation])
        if operation == "RunInstances":
            return self._run(account_id, params)
        if operation == "TerminateInstances":
            with self.store.session() as s:
                s.execute(
                    update(Ec2Instance)
                    .where(
                        Ec2Instance.id.in_(params["InstanceIds"]),
                        Ec2Instance.state != "terminated",
                    )
                    .values(state="shutting-down")
                )
        return {}

    def _run(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        token = params["ClientToken"]
        with self.store.session() as s:
            row = s.scalars(select(Ec2Instance).where(Ec2Instance.client_token == token)).first()
            if row is None:
                zone = params.get("Placement", {}).get("AvailabilityZone", "zone-a")
                row = Ec2Instance(
                    id=new_id("i"),
                    account_id=account_id,
                    reservation_id=new_id("r"),
                    client_token=token,
                    image_id=params.get("ImageId", "emi-00000000"),
                    instance_type=params.get("InstanceType", "m1.small"),
                    cores=1,
                    memory_mb=256,
                    disk_gb=5,
                    availability_zone=zone,
                    launch_time=dt.datetime.now(dt.UTC),
                    state_changed_at=time.time(),
                )
                s.add(row)
            return {
                "Instances": [
                    {"InstanceId": row.id, "Placement": {"AvailabilityZone": row.availability_zone}}
                ]
            }

    def operations(self, name: str) -> list[dict[str, Any]]:
        return [p for _, op, p in self.calls if op == name]


def account(store: Store) -> str:
    ensure_system_account(store)
    return system_account_id(store)


def add_config(store: Store, name: str = "lc", **values: Any) -> None:
    with store.session() as s:
        s.add(
            AsLaunchConfiguration(
                id=str(uuid.uuid4()),
                account_id=account(store),
                name=name,
                created_at=dt.datetime.now(dt.UTC),
                image_id=values.pop("image_id", "emi-12345678"),
                instance_type=values.pop("instance_type", "m1.small"),
                **values,
            )
        )


def add_group(
    store: Store,
    name: str = "web",
    *,
    desired: int = 0,
    zones: tuple[str, ...] = ("zone-a",),
    tags: dict[str, tuple[str, bool]] | None = None,
    **values: Any,
) -> str:
    gid = str(uuid.uuid4())
    with store.session() as s:
        s.add(
            AsGroup(
                id=gid,
                account_id=account(store),
                name=name,
                created_at=dt.datetime.now(dt.UTC),
                launch_configuration_name=values.pop("launch_configuration_name", "lc"),
                min_size=values.pop("min_size", 0),
                max_size=values.pop("max_size", 10),
                desired_capacity=desired,
                availability_zones=json.dumps(list(zones)),
                **values,
            )
        )
        for key, (value, propagate) in (tags or {}).items():
            s.add(AsTag(group_id=gid, key=key, value=value, propagate_at_launch=propagate))
    return gid


def set_group(store: Store, gid: str, **values: Any) -> None:
    with store.session() as s:
        s.execute(update(AsGroup).where(AsGroup.id == gid).values(**values))


def group(store: Store, gid: str) -> AsGroup | None:
    with store.read() as s:
        return s.get(AsGroup, gid)


def instances(store: Store, gid: str) -> list[AsInstance]:
    with store.read() as s:
        return list(
            s.scalars(
                select(AsInstance)
                .where(AsInstance.group_id == gid)
                .order_by(AsInstance.launched_at, AsInstance.instance_id)
            )
        )


def activities(store: Store, gid: str) -> list[AsActivity]:
    with store.read() as s:
        return list(
            s.scalars(
                select(AsActivity)
                .where(AsActivity.group_id == gid)
                .order_by(AsActivity.start_time, AsActivity.kind)
            )
        )


def ec2_state(store: Store, ids: list[str], state: str) -> None:
    with store.session() as s:
        s.execute(update(Ec2Instance).where(Ec2Instance.id.in_(ids)).values(state=state))


def ec2_states(store: Store, ids: list[str]) -> list[str]:
    with store.read() as s:
        return [s.get(Ec2Instance, i).state for i in ids]  # type: ignore[union-attr]
