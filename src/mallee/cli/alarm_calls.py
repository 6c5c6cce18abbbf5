"""What `mallee controller`'s alarm engine is given to reach the services: the gateway's
internal call as an alarm's account (its root, as AWS runs an alarm's actions for the
account), for the alarm actions (EC2 Stop/Terminate/RebootInstances, Auto Scaling's
ExecutePolicy) and for metric math alarms (GetMetricData). The Auto Scaling group engine is
given the same call: it launches and terminates a group's instances (EC2 Run/
TerminateInstances) and registers them with its load balancers as the group's account."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mallee.api.context import Principal
from mallee.api.errors import ServiceError
from mallee.cloud_identity import SYSTEM_ACCOUNT
from mallee.config import Settings
from mallee.controller.alarm_actions import AccountCalls, ActionFailed
from mallee.controller.alarms import MathReader
from mallee.gateway.chain import Chain
from mallee.gateway.internal import wire
from mallee.identity.arns import root_arn
from mallee.services.base import Runtime
from mallee.store import Store
from mallee.store.tables.iam import IamAccount


def alarm_calls(settings: Settings, store: Store) -> tuple[AccountCalls, MathReader]:
    calls = wire(Chain(Runtime(settings, store)))

    def principal(account_id: str) -> Principal:
        with store.read() as s:
            account = s.get(IamAccount, account_id)
        if account is None:
            raise ActionFailed("ResourceNotFound", f"The account {account_id} does not exist")
        return Principal(
            account_id=account_id,
            arn=root_arn(account_id),
            user_id=account_id,
            kind="root",
            name=account.name,
            is_cloud_admin=account.name == SYSTEM_ACCOUNT,
        )

    def call(
        account_id: str, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            return calls.call(service, operation, params, principal=principal(account_id))
        except ServiceError as err:
            raise ActionFailed(err.code, err.message) from None

    def math(
        account_id: str, queries: list[dict[str, Any]], start: float, end: float, period: int
    ) -> list[tuple[float, float]]:
        answer = call(
            account_id,
            "cloudwatch",
            "GetMetricData",
            {
                "MetricDataQueries": queries,
                "StartTime": dt.datetime.fromtimestamp(start, dt.UTC),
                "EndTime": dt.datetime.fromtimestamp(end, dt.UTC),
            },
        )
        out: list[tuple[float, float]] = []
        for result in answer.get("MetricDataResults") or []:
            for t, v in zip(
                result.get("Timestamps") or [], result.get("Values") or [], strict=True
            ):
                moment = t.timestamp() if isinstance(t, dt.datetime) else float(t)
                out.append((moment, float(v)))
        return out

    return call, math
