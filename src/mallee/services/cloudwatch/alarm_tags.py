"""TagResource, UntagResource and ListTagsForResource of alarms and dashboards, by ARN."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import alarm_checks
from mallee.services.cloudwatch.alarm_errors import tag_resource_not_found
from mallee.services.cloudwatch.errors import invalid_value
from mallee.store.tables.alarms import CwAlarm, CwDashboard, CwTag


def _exists(s: Session, ctx: RequestContext, arn: str) -> bool:
    """Whether `arn` is an alarm or a dashboard of the caller's account."""
    account = ctx.principal.account_id
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "cloudwatch" or parts[4] != account:
        return False
    resource = parts[5]
    if resource.startswith("alarm:"):
        return (
            s.scalar(select(CwAlarm.id).where(CwAlarm.account_id == account, CwAlarm.arn == arn))
            is not None
        )
    if resource.startswith("dashboard/"):
        name = resource[len("dashboard/") :]
        return s.get(CwDashboard, (account, name)) is not None
    return False


def tag_resource(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    arn = str(params["ResourceARN"])
    pairs = alarm_checks.tags(params.get("Tags"))
    with rt.store.session() as s:
        if not _exists(s, ctx, arn):
            raise tag_resource_not_found(arn)
        current = {t.key: t for t in s.scalars(select(CwTag).where(CwTag.arn == arn))}
        added = {k for k, _ in pairs} - current.keys()
        if len(current) + len(added) > alarm_checks.MAX_TAGS:
            raise invalid_value(f"A resource may have at most {alarm_checks.MAX_TAGS} tags.")
        for key, value in pairs:
            if key in current:
                current[key].value = value
            else:
                s.add(CwTag(account_id=ctx.principal.account_id, arn=arn, key=key, value=value))
    return {}


def untag_resource(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    arn = str(params["ResourceARN"])
    keys = [str(k) for k in params.get("TagKeys") or []]
    with rt.store.session() as s:
        if not _exists(s, ctx, arn):
            raise tag_resource_not_found(arn)
        s.execute(delete(CwTag).where(CwTag.arn == arn, CwTag.key.in_(keys)))
    return {}


def list_tags_for_resource(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    arn = str(params["ResourceARN"])
    with rt.store.read() as s:
        if not _exists(s, ctx, arn):
            raise tag_resource_not_found(arn)
        tags = s.scalars(select(CwTag).where(CwTag.arn == arn).order_by(CwTag.key)).all()
    return {"Tags": [{"Key": t.key, "Value": t.value} for t in tags]}


OPERATIONS: Operations = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
