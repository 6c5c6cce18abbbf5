"""The Auto Scaling group engine: one pass per controller tick keeps every group at its
desired capacity with real instances.

Each pass runs the scheduled actions that are due (autoscaling_schedule), reads the groups,
their instances, open activities and the EC2 rows behind them in one read
(autoscaling_rows.load), then for each group:

1. adopts launches left in flight: an InProgress launch activity with no instance is called
   again with the same ClientToken (its id), which RunInstances answers with the instance it
   made the first time, if any;
2. settles lifecycles from the EC2 rows: Pending -> InService once the instance runs (its
   launch activity Successful, the cooldown started), Pending -> Terminated with the launch
   activity Failed when EC2 ended it, Terminating -> Terminated once EC2 terminated it;
3. takes unhealthy instances out of service (autoscaling_health) and terminates them, the
   replacement following in step 5;
4. registers InService instances with the group's load balancers and deregisters them from
   the ones the group no longer names (ELB through the internal call);
5. launches (autoscaling_launch) or terminates (autoscaling_terminate's policies) to reach the
   desired capacity, spreading launches over the group's zones, fewest instances first;
6. deletes a deleting group's rows once nothing of it is left.

Every instance's or activity's state change is a conditional UPDATE from the state the pass
read, and every activity row is committed before the call it records, so a pass racing
another or repeated after a crash changes nothing twice. A restarted controller adopts what
the last one left: InProgress launches (step 1) and Terminating instances whose EC2 instance
still runs (TerminateInstances again, which is idempotent). The engine calls the services only
through the internal call `mallee controller` is given (cli/alarm_calls.py), as the group's
account.

The retry of a failed launch backs off per group (5 s doubling to 5 min, kept in memory) and
skips the zone that failed while another is open.
"""

from __future__ import annotations

import calendar
import json
import logging
import time
from collections import Counter

from sqlalchemy import delete, select, update

from mallee.controller import autoscaling_launch as launch
from mallee.controller import autoscaling_lifecycle as lifecycle
from mallee.controller import autoscaling_metrics
from mallee.controller import autoscaling_schedule as schedule
from mallee.controller.alarm_actions import AccountCalls, ActionFailed
from mallee.controller.autoscaling_health import STOPPED_OR_GONE, unhealthy_cause
from mallee.controller.autoscaling_lbs import LoadBalancers
from mallee.controller.autoscaling_rows import (
    DELETING,
    Ec2State,
    GroupView,
    Snapshot,
    join_causes,
    load,
    loads,
    stamp,
)
from mallee.controller.autoscaling_terminate import Candidate, GroupLaunchSource, choose
from mallee.controller.vmstate import silent_nodes
from mallee.store import Store
from mallee.store.tables.autoscaling import (
    AsActivity,
    AsGroup,
    AsInstance,
    AsPolicy,
    AsScheduledAction,
    AsTag,
)
from mallee.store.tables.ec2 import Ec2Instance

log = logging.getLogger(__name__)
# In the cause of an AZRebalance launch (AWS's words).
REBALANCING = "to aid in balancing the group's zones"

FIRST_BACKOFF = 5.0
MAX_BACKOFF = 300.0
PURGE_EVERY = 60.0


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _cause_time(cause: str) -> float | None:
    """The time a cause text starts with ("At 2016-03-23T18:55:23Z ...")."""
    if not cause.startswith("At "):
        return None
    try:
        return float(calendar.timegm(time.strptime(cause[3:23], "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


class GroupEngine:
    def __init__(self, store: Store, calls: AccountCalls | None) -> None:
        self.store = store
        self.calls = calls
        self.lbs = LoadBalancers(store, calls) if calls is not None else None
        # group id -> (no launch before, failures in a row)
        self._backoff: dict[str, tuple[float, int]] = {}
        # group id -> (zone whose launch failed, until when it is avoided)
        self._bad_zone: dict[str, tuple[str, float]] = {}
        # activity id -> no retry of its call before (a call that raised, not refused)
        self._retry: dict[str, float] = {}
        # group id -> when it last took an unhealthy instance out (its replacement's launch
        # is not the last capacity change's doing)
        self._replaced_at: dict[str, float] = {}
        self._purged_at = 0.0

    def tick(self, now: float | None = None) -> int:
        """One pass; how many changes it made."""
        now = time.time() if now is None else now
        try:
            done = schedule.run_due(self.store, now)
            snap = load(self.store)
        except Exception:
            # The controller's other reconcilers run after this one: the next tick retries.
            log.exception("auto scaling pass failed")
            return 0
        if not snap.groups:
            return done
        silent = silent_nodes(self.store, now=now) if snap.ec2 else set()
        for view in snap.groups:
            try:
                done += self._group(view, snap, silent, now)
            except Exception:
                # One group's trouble (a database error mid-pass) must not starve the others.
                log.exception("auto scaling group %s: pass failed", view.group.name)
        try:
            autoscaling_metrics.publish(self.store, snap.groups, now)
        except Exception:
            log.exception("auto scaling group metrics failed")
        live = {v.group.id for v in snap.groups}
        if self.lbs is not None:
            self.lbs.forget(live)
        if now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            self._purge()
        return done

    # -- one group ---------------------------------------------------------------------------

    def _group(self, view: GroupView, snap: Snapshot, silent: set[str], now: float) -> int:
        done = 0
        if self.calls is not None:
            adopted = self._adopt(view, now)
            if adopted:
                # The instances they recorded are counted by the next pass's read.
                return adopted
        done += self._settle(view, snap.ec2, now)
        if self.calls is None:
            return done
        if "HealthCheck" not in view.suspended and not view.deleting:
            done += self._health(view, snap, silent, now)
        assert self.lbs is not None
        done += self.lbs.sync(view, now)
        done += self._capacity(view, snap, now)
        if view.deleting:
            done += self._delete_if_empty(view)
        return done

    def _adopt(self, view: GroupView, now: float) -> int:
        assert self.calls is not None
        done = 0
        for act in view.launching():
            if self._retry.get(act.id, 0.0) > now:
                done += 1
                continue
            try:
                launch.call(self.store, self.calls, view, act, now)
                self._retry.pop(act.id, None)
            except Exception:
                self._retry[act.id] = now + FIRST_BACKOFF
                log.exception("launch %s of group %s: call failed", act.id, view.group.name)
            done += 1
        return done

    def _settle(self, view: GroupView, ec2: dict[str, Ec2State], now: float) -> int:
        done = 0
        for inst in view.instances:
            state = ec2.get(inst.instance_id)
            if inst.lifecycle_state == "Pending":
                if state is not None and state.state == "running":
                    if lifecycle.in_service(self.store, view, inst, now):
                        self._backoff.pop(view.group.id, None)
                        done += 1
                elif state is None or state.state in STOPPED_OR_GONE:
                    reason = (state.reason if state else "") or "The instance was terminated"
                    if lifecycle.launch_failed(self.store, view, inst, reason, now):
                        self._failed_launch(view.group.id, inst.zone, now)
                        done += 1
            elif inst.lifecycle_state == "Detaching" and self.lbs is not None:
                # DetachInstances of a registered instance: out of the load balancers first.
                self.lbs.deregister_all(view, inst, now)
                if not loads(inst.registered_lbs, []):
                    done += lifecycle.detached(self.store, view, inst, now)
            elif inst.lifecycle_state == "Terminating":
                if self.lbs is not None and loads(inst.registered_lbs, []):
                    # TerminateInstanceInAutoScalingGroup leaves this to the engine.
                    self.lbs.deregister_all(view, inst, now)
                if state is None or state.state == "terminated":
                    done += lifecycle.terminated(self.store, view, inst, now)
                elif (
                    state.state != "shutting-down"
                    and self.calls is not None
                    and self._retry.get(inst.instance_id, 0.0) <= now
                ):
                    # A terminate the last controller did not get to call (or EC2 refused).
                    act = view.open_for(inst.instance_id, "terminate")
                    self._call_terminate(view, inst, act.id if act else "", state, now)
        return done

    # -- health ------------------------------------------------------------------------------

    def _health(self, view: GroupView, snap: Snapshot, silent: set[str], now: float) -> int:
        done = 0
        replace = not ({"ReplaceUnhealthy", "Terminate"} & view.suspended)
        for inst in list(view.instances):
            if inst.lifecycle_state != "InService":
                continue
            state = snap.ec2.get(inst.instance_id)
            cause = unhealthy_cause(view.group, inst, state, silent, snap.lb_health, now)
            if cause is None:
                continue
            if not replace:
                done += lifecycle.mark_unhealthy(self.store, inst)
            elif self._terminate(view, inst, cause, state, now, unhealthy=True):
                self._replaced_at[view.group.id] = now
                done += 1
        return done

    # -- terminating -------------------------------------------------------------------------

    def _terminate(
        self,
        view: GroupView,
        inst: AsInstance,
        cause: str,
        state: Ec2State | None,
        now: float,
        *,
        unhealthy: bool = False,
    ) -> bool:
        """The activity and the Terminating state in one transaction, then the calls."""
        act_id = lifecycle.begin_terminate(self.store, view, inst, cause, now, unhealthy=unhealthy)
        if not act_id:
            return False
        self._call_terminate(view, inst, act_id, state, now)
        return True

    def _call_terminate(
        self, view: GroupView, inst: AsInstance, act_id: str, state: Ec2State | None, now: float
    ) -> None:
        assert self.calls is not None and self.lbs is not None
        self.lbs.deregister_all(view, inst, now)
        if state is None or state.state == "terminated":
            lifecycle.terminated(self.store, view, inst, now)
            return
        try:
            self.calls(
                view.group.account_id,
                "ec2",
                "TerminateInstances",
                {"InstanceIds": [inst.instance_id]},
            )
        except ActionFailed as err:
            if err.code == "InvalidInstanceID.NotFound":
                lifecycle.terminated(self.store, view, inst, now)
                return
            log.warning("terminating %s: %s", inst.instance_id, err)
            self._retry[inst.instance_id] = now + FIRST_BACKOFF
            self._note(act_id, status_message=f"{err.code}: {err.message}")
            return
        self._note(act_id, progress=50)

    def _note(self, act_id: str, **values: object) -> None:
        if not act_id:
            return
        with self.store.session() as s:
            s.execute(
                update(AsActivity)
                .where(AsActivity.id == act_id, AsActivity.status_code == "InProgress")
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    # -- capacity ----------------------------------------------------------------------------

    def _spots(self, view: GroupView, snap: Snapshot) -> list[launch.Spot]:
        g = view.group
        subnets = [sid.strip() for sid in g.vpc_zone_identifier.split(",") if sid.strip()]
        if subnets:
            return [
                launch.Spot(snap.subnet_zones[(g.account_id, sid)], sid)
                for sid in subnets
                if (g.account_id, sid) in snap.subnet_zones
            ]
        return [launch.Spot(str(z)) for z in loads(g.availability_zones, [])]

    def _pick_spot(
        self, view: GroupView, spots: list[launch.Spot], counts: Counter[str], now: float
    ) -> launch.Spot:
        bad = self._bad_zone.get(view.group.id)
        usable = [p for p in spots if not (bad and bad[0] == p.zone and bad[1] > now)] or spots
        # Fewest instances first; a tie goes to the zone listed first.
        return min(usable, key=lambda p: counts[p.zone])

    def _failed_launch(self, group_id: str, zone: str, now: float) -> None:
        _, failures = self._backoff.get(group_id, (0.0, 0))
        wait = min(MAX_BACKOFF, FIRST_BACKOFF * 2**failures)
        self._backoff[group_id] = (now + wait, failures + 1)
        self._bad_zone[group_id] = (zone, now + wait * 2)

    def _launch_prefix(self, view: GroupView) -> str:
        cause = view.group.capacity_cause
        replaced = self._replaced_at.get(view.group.id)
        if replaced is not None:
            at = _cause_time(cause)
            if at is None or at < replaced:
                return ""
        return cause

    def _capacity(self, view: GroupView, snap: Snapshot, now: float) -> int:
        g = view.group
        desired = 0 if view.deleting else g.desired_capacity
        live = view.live()
        count = len(live) + len(view.launching())
        if count < desired and "Launch" not in view.suspended and not view.deleting:
            return self._launch(view, snap, live, count, desired, now)
        if count > desired and ("Terminate" not in view.suspended or view.deleting):
            if not view.deleting and any(REBALANCING in a.cause for a in view.open):
                # A rebalancing launch first serves, then the crowded zone gives one up.
                return 0
            return self._scale_in(view, snap, live, count, desired, now)
        if count == desired and not view.deleting:
            return self._rebalance(view, snap, live, now)
        return 0

    def _rebalance(
        self, view: GroupView, snap: Snapshot, live: list[AsInstance], now: float
    ) -> int:
        """AZRebalance: when the group's zones differ by more than one instance and nothing
        else is going on, one more instance in the emptiest zone; once it is InService the
        group is one over its desired capacity and the Default termination policy takes one
        from the fullest zone (AWS launches before it terminates, going over MaxSize by one
        meanwhile)."""
        assert self.calls is not None
        if {"AZRebalance", "Launch", "Terminate"} & view.suspended or view.open:
            return 0
        if any(i.lifecycle_state != "InService" for i in live):
            return 0
        if self._backoff.get(view.group.id, (0.0, 0))[0] > now:
            return 0
        spots = self._spots(view, snap)
        counts = Counter({p.zone: 0 for p in spots})
        counts.update(i.zone for i in live if i.zone in counts)
        if len(counts) < 2 or max(counts.values()) - min(counts.values()) <= 1:
            return 0
        fullest = max(counts.values())
        if all(i.protected_from_scale_in for i in live if counts[i.zone] == fullest):
            return 0  # nothing there could go: the launch would only be undone elsewhere
        spot = self._pick_spot(view, spots, counts, now)
        if counts[spot.zone] >= fullest - 1:
            return 0  # the emptiest zones are failing launches
        cause = f"At {stamp(now)} an instance was launched {REBALANCING}."
        act = launch.begin(self.store, view, spot, cause, now)
        if not launch.call(self.store, self.calls, view, act, now):
            self._failed_launch(view.group.id, spot.zone, now)
        return 1

    def _launch(
        self,
        view: GroupView,
        snap: Snapshot,
        live: list[AsInstance],
        count: int,
        desired: int,
        now: float,
    ) -> int:
        assert self.calls is not None
        if self._backoff.get(view.group.id, (0.0, 0))[0] > now:
            return 0
        spots = self._spots(view, snap)
        if not spots:
            log.warning("group %s has no zone to launch in", view.group.name)
            return 0
        counts = Counter(i.zone for i in live)
        counts.update(a.zone for a in view.launching())
        cause = launch.launch_cause(self._launch_prefix(view), count, desired, now)
        done = 0
        for _ in range(desired - count):
            spot = self._pick_spot(view, spots, counts, now)
            act = launch.begin(self.store, view, spot, cause, now)
            done += 1
            if not launch.call(self.store, self.calls, view, act, now):
                self._failed_launch(view.group.id, spot.zone, now)
                break
            counts[spot.zone] += 1
        return done

    def _scale_in(
        self,
        view: GroupView,
        snap: Snapshot,
        live: list[AsInstance],
        count: int,
        desired: int,
        now: float,
    ) -> int:
        g = view.group
        cands = [
            Candidate(
                instance_id=i.instance_id,
                zone=i.zone,
                launched_at=i.launched_at,
                launch_configuration_name=i.launch_configuration_name,
                launch_template=i.launch_template,
                config_created_at=snap.config_times.get(
                    (g.account_id, i.launch_configuration_name)
                ),
            )
            for i in live
            if view.deleting or not i.protected_from_scale_in
        ]
        policies = [str(p) for p in loads(g.termination_policies, [])]
        current = GroupLaunchSource(
            json.dumps(loads(g.launch_template, {})) if g.launch_template else ""
        )
        victims = choose(cands, count - desired, policies, current, now)
        by_id = {i.instance_id: i for i in live}
        shrink = (
            f"At {stamp(now)} an instance was taken out of service in response to a difference "
            "between desired and actual capacity, shrinking the capacity from "
            f"{count} to {desired}."
        )
        done = 0
        for victim in victims:
            inst = by_id[victim.instance_id]
            cause = join_causes(
                g.capacity_cause,
                shrink,
                f"At {stamp(now)} instance {inst.instance_id} was selected for termination.",
            )
            if self._terminate(view, inst, cause, snap.ec2.get(inst.instance_id), now):
                done += 1
        return done

    # -- deleting ----------------------------------------------------------------------------

    def _delete_if_empty(self, view: GroupView) -> int:
        if any(i.lifecycle_state not in ("Terminated", "Detached") for i in view.instances):
            return 0
        if view.launching():
            return 0
        gid = view.group.id
        with self.store.session() as s:
            result = s.execute(delete(AsGroup).where(AsGroup.id == gid, AsGroup.status == DELETING))
            if _rowcount(result) != 1:
                return 0
            for table in (AsInstance, AsPolicy, AsScheduledAction, AsTag):
                s.execute(delete(table).where(table.group_id == gid))
            s.execute(delete(AsActivity).where(AsActivity.group_id == gid))
        for state in (self._backoff, self._bad_zone, self._replaced_at):
            state.pop(gid, None)
        return 1

    def _purge(self) -> None:
        """Terminated instances leave the group's rows once EC2 has forgotten them."""
        with self.store.session() as s:
            s.execute(
                delete(AsInstance)
                .where(
                    AsInstance.lifecycle_state == "Terminated",
                    AsInstance.instance_id.not_in(select(Ec2Instance.id)),
                )
                .execution_options(synchronize_session=False)
            )
