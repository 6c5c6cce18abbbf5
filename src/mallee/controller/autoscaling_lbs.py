"""A group's instances and its classic load balancers: InService healthy instances registered
with each load balancer the group names (unless AddToLoadBalancer is suspended), taken out of
the ones it no longer names (DetachLoadBalancers) and out of all before they are terminated.

The calls are ELB's Register/DeregisterInstances through the internal call as the group's
account; `registered_lbs` records what is done, so a restart calls again only what is not
(registering twice is harmless). A load balancer that refuses is asked again after LB_RETRY.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import update

from mallee.controller.alarm_actions import AccountCalls, ActionFailed
from mallee.controller.autoscaling_rows import LIVE, GroupView, loads
from mallee.store import Store
from mallee.store.tables.autoscaling import AsInstance

log = logging.getLogger(__name__)

LB_RETRY = 30.0
REGISTER = "RegisterInstancesWithLoadBalancer"
DEREGISTER = "DeregisterInstancesFromLoadBalancer"
# A deregistration these answer has nothing left to undo.
_NOTHING_THERE = ("LoadBalancerNotFound", "InvalidInstance", "InvalidEndPoint")


class LoadBalancers:
    def __init__(self, store: Store, calls: AccountCalls) -> None:
        self.store = store
        self.calls = calls
        # (group id, load balancer) -> no call before
        self._retry: dict[tuple[str, str], float] = {}

    def _set(self, inst: AsInstance, names: list[str]) -> None:
        text = json.dumps(sorted(set(names)))
        with self.store.session() as s:
            s.execute(
                update(AsInstance)
                .where(
                    AsInstance.instance_id == inst.instance_id,
                    AsInstance.registered_lbs == inst.registered_lbs,
                )
                .values(registered_lbs=text)
                .execution_options(synchronize_session=False)
            )
        inst.registered_lbs = text

    def _call(self, view: GroupView, lb: str, operation: str, ids: list[str], now: float) -> bool:
        key = (view.group.id, lb)
        if self._retry.get(key, 0.0) > now:
            return False
        params = {"LoadBalancerName": lb, "Instances": [{"InstanceId": i} for i in ids]}
        try:
            self.calls(view.group.account_id, "elb", operation, params)
        except ActionFailed as err:
            if operation == DEREGISTER and err.code in _NOTHING_THERE:
                return True
            log.warning("group %s: %s %s: %s", view.group.name, operation, lb, err)
            self._retry[key] = now + LB_RETRY
            return False
        self._retry.pop(key, None)
        return True

    def deregister_all(self, view: GroupView, inst: AsInstance, now: float) -> None:
        for lb in loads(inst.registered_lbs, []):
            self.deregister(view, inst, str(lb), now)

    def deregister(self, view: GroupView, inst: AsInstance, lb: str, now: float) -> None:
        if self._call(view, lb, DEREGISTER, [inst.instance_id], now):
            self._set(inst, [str(n) for n in loads(inst.registered_lbs, []) if n != lb])

    def sync(self, view: GroupView, now: float) -> int:
        names = [str(n) for n in loads(view.group.load_balancer_names, [])]
        done = 0
        for inst in view.instances:
            if inst.lifecycle_state not in LIVE:
                continue
            for lb in loads(inst.registered_lbs, []):
                if lb not in names:
                    self.deregister(view, inst, str(lb), now)
                    done += 1
        if "AddToLoadBalancer" in view.suspended or view.deleting:
            return done
        for lb in names:
            todo = [
                i
                for i in view.instances
                if i.lifecycle_state == "InService"
                and i.health_status == "Healthy"
                and lb not in loads(i.registered_lbs, [])
            ]
            if todo and self._call(view, lb, REGISTER, [i.instance_id for i in todo], now):
                for inst in todo:
                    self._set(inst, [*loads(inst.registered_lbs, []), lb])
                done += 1
        return done

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self._retry if k[0] not in live]:
            del self._retry[key]
