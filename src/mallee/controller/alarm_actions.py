"""Runs the actions alarm transitions owe (the `cw_alarm_actions` outbox), as the alarm's
account, through the gateway's internal call that `mallee controller` is given (the
controller imports no service: cli/alarm_actions.py builds the call).

A pending row is claimed (conditional UPDATE pending -> running, naming this runner), run,
then finished (running -> done | failed, with its Action history item) in one transaction.
A row a crashed runner left `running` is run again only when running it twice does no harm
(EC2 Stop and Terminate: the instance's state machine makes the repeat a no-op); a reboot or
an Auto Scaling policy is instead recorded as failed, so nothing is ever done twice.

The actions:
- arn:aws:automate:<region>:ec2:stop|terminate|reboot|recover (and the older
  arn:aws:swf:<region>:<account>:action/actions/AWS_EC2.InstanceId.<Verb>/1.0): StopInstances,
  TerminateInstances, RebootInstances on the alarm's InstanceId dimension. `recover` reboots
  the instance where it is: a node here has no other host to move a VM's memory to.
- arn:aws:autoscaling:...:scalingPolicy:...: Auto Scaling's ExecutePolicyForAlarm, its
  internal-only ExecutePolicy that names the alarm (the activity's cause says which alarm
  triggered the policy; a step or target tracking policy reads the alarm's value).
- Anything else (SNS topics, ...) is recorded as failed: this cloud has no such service.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.store import Store
from mallee.store.tables.alarms import CwAlarmAction, CwAlarmHistory

log = logging.getLogger(__name__)

BATCH = 50
EC2_VERBS = {
    "stop": "StopInstances",
    "terminate": "TerminateInstances",
    "reboot": "RebootInstances",
    "recover": "RebootInstances",
}
# Running one of these twice changes nothing more than running it once.
IDEMPOTENT = frozenset({"StopInstances", "TerminateInstances"})


class ActionFailed(Exception):
    """The service refused the action (its error code and message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AccountCalls(Protocol):
    """The internal call as the account's own principal (its root)."""

    def __call__(
        self, account_id: str, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]


def plan(action: str, instance_id: str, region: str, alarm_name: str = "") -> Call:
    """The call `action` makes, or ActionFailed when it names nothing this cloud runs."""
    parts = action.split(":")
    if len(parts) >= 6 and parts[2] == "automate" and parts[4] == "ec2":
        verb = EC2_VERBS.get(parts[5])
        if verb is not None:
            return _ec2(verb, instance_id, parts[3], region, action)
    if len(parts) >= 6 and parts[2] == "swf" and "AWS_EC2.InstanceId." in action:
        word = action.split("AWS_EC2.InstanceId.", 1)[1].split("/", 1)[0].lower()
        verb = EC2_VERBS.get(word)
        if verb is not None:
            return _ec2(verb, instance_id, parts[3], region, action)
    if len(parts) >= 7 and parts[2] == "autoscaling" and parts[5] == "scalingPolicy":
        group = action.split(":autoScalingGroupName/", 1)[-1].split(":policyName/", 1)[0]
        return Call(
            "autoscaling",
            "ExecutePolicyForAlarm",
            {
                "AutoScalingGroupName": group,
                "PolicyName": action,
                "HonorCooldown": True,
                "AlarmName": alarm_name,
            },
        )
    raise ActionFailed("UnsupportedAction", f"This cloud cannot run the action {action}")


def _ec2(verb: str, instance_id: str, arn_region: str, region: str, action: str) -> Call:
    if not instance_id:
        raise ActionFailed("InvalidAction", f"{action} needs an alarm on an InstanceId dimension")
    if arn_region != region:
        raise ActionFailed("InvalidAction", f"{action} is not in this region ({region})")
    return Call("ec2", verb, {"InstanceIds": [instance_id]})


def _history(s: Session, row: CwAlarmAction, ok: bool, error: str, now: float) -> None:
    data: dict[str, Any] = {
        "actionState": "Succeeded" if ok else "Failed",
        "stateUpdateTimestamp": int(row.transitioned_at * 1000),
        "notificationResource": row.action,
    }
    if not ok:
        data["error"] = error
    summary = (
        f"Successfully executed action {row.action}"
        if ok
        else f"Failed to execute action {row.action}"
    )
    s.add(
        CwAlarmHistory(
            account_id=row.account_id,
            alarm_name=row.alarm_name,
            alarm_type=row.alarm_type,
            timestamp=now,
            item_type="Action",
            summary=summary[:255],
            data=json.dumps(data, separators=(",", ":")),
        )
    )


class ActionRunner:
    def __init__(
        self,
        store: Store,
        calls: AccountCalls | None,
        *,
        region: str,
    ) -> None:
        self.store = store
        self.calls = calls
        self.region = region
        # Rows this runner claims name it; rows naming another were left by a crashed one.
        self.runner = uuid.uuid4().hex

    def run(self, now: float) -> int:
        """Runs the pending actions (and settles those a crashed runner left); how many."""
        with self.store.read() as s:
            rows = list(
                s.scalars(
                    select(CwAlarmAction)
                    .where(CwAlarmAction.state.in_(("pending", "running")))
                    .order_by(CwAlarmAction.id)
                    .limit(BATCH)
                )
            )
        done = 0
        for row in rows:
            if row.state == "running" and row.runner == self.runner:
                continue
            done += self._one(row, now)
        return done

    def _one(self, row: CwAlarmAction, now: float) -> int:
        left = (row.state, row.runner)
        try:
            call = plan(row.action, row.instance_id, self.region, row.alarm_name)
        except ActionFailed as err:
            return self._finish(row, left, False, err.message, now)
        if row.state == "running" and call.operation not in IDEMPOTENT:
            # A runner died between claiming it and recording it: it may have run.
            return self._finish(
                row, left, False, "The controller stopped while running the action", now
            )
        if not self._claim(row, now):
            return 0
        mine = ("running", self.runner)
        if self.calls is None:
            return self._finish(row, mine, False, "No internal call to run actions", now)
        try:
            self.calls(row.account_id, call.service, call.operation, call.params)
        except ActionFailed as err:
            return self._finish(row, mine, False, f"{err.code}: {err.message}", now)
        except Exception as err:
            log.exception("alarm action %s failed", row.action)
            return self._finish(row, mine, False, str(err), now)
        return self._finish(row, mine, True, "", now)

    def _claim(self, row: CwAlarmAction, now: float) -> bool:
        with self.store.session() as s:
            result = s.execute(
                update(CwAlarmAction)
                .where(
                    CwAlarmAction.id == row.id,
                    CwAlarmAction.state == row.state,
                    CwAlarmAction.runner == row.runner,
                )
                .values(state="running", runner=self.runner, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            return getattr(result, "rowcount", 0) == 1

    def _finish(
        self, row: CwAlarmAction, expected: tuple[str, str], ok: bool, error: str, now: float
    ) -> int:
        """Records the outcome, only if the row is still as `expected` (state, runner)."""
        with self.store.session() as s:
            result = s.execute(
                update(CwAlarmAction)
                .where(
                    CwAlarmAction.id == row.id,
                    CwAlarmAction.state == expected[0],
                    CwAlarmAction.runner == expected[1],
                )
                .values(state="done" if ok else "failed", result=error[:4000])
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return 0
            _history(s, row, ok, error, now)
        return 1
