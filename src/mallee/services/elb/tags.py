"""AddTags, RemoveTags and DescribeTags of load balancers (at most 10 tags each, as AWS)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import checks, errors, rows
from mallee.store.tables.elb import ElbLoadBalancer, ElbTag


def _named(s: Session, ctx: RequestContext, params: Params) -> list[ElbLoadBalancer]:
    out = []
    for name in dict.fromkeys(str(n) for n in params.get("LoadBalancerNames") or []):
        found = rows.find(s, ctx.principal.account_id, name)
        if found is None:
            raise errors.lb_not_found(name)
        out.append(found)
    if not out:
        raise errors.validation("LoadBalancerNames must name at least one load balancer")
    return out


def add_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    pairs = checks.tags(params.get("Tags"))
    with rt.store.session() as s:
        for lb in _named(s, ctx, params):
            current = {t.key: t for t in s.scalars(select(ElbTag).where(ElbTag.lb_id == lb.id))}
            added = {k for k, _ in pairs} - current.keys()
            if len(current) + len(added) > checks.MAX_TAGS:
                raise errors.too_many_tags(checks.MAX_TAGS)
            for key, value in pairs:
                if key in current:
                    current[key].value = value
                else:
                    s.add(ElbTag(lb_id=lb.id, key=key, value=value))
    return {}


def remove_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    keys = [str(t.get("Key") or "") for t in params.get("Tags") or []]
    with rt.store.session() as s:
        for lb in _named(s, ctx, params):
            s.execute(delete(ElbTag).where(ElbTag.lb_id == lb.id, ElbTag.key.in_(keys)))
    return {}


def describe_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.read() as s:
        out = []
        for lb in _named(s, ctx, params):
            tags = s.scalars(select(ElbTag).where(ElbTag.lb_id == lb.id).order_by(ElbTag.key))
            out.append(
                {
                    "LoadBalancerName": lb.name,
                    "Tags": [{"Key": t.key, "Value": t.value} for t in tags],
                }
            )
    return {"TagDescriptions": out}


OPERATIONS: Operations = {
    "AddTags": add_tags,
    "RemoveTags": remove_tags,
    "DescribeTags": describe_tags,
}
