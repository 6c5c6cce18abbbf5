"""CreateLoadBalancer, DeleteLoadBalancer, DescribeLoadBalancers and DescribeAccountLimits."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity import server_certificates
from mallee.identity.clock import now
from mallee.registry import properties
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.elb import checks, errors, interfaces, network, rows, views
from mallee.store.tables.elb import (
    ElbBackendPolicies,
    ElbInstance,
    ElbInstanceHealth,
    ElbListener,
    ElbLoadBalancer,
    ElbPolicy,
    ElbTag,
    bump_elb,
)

# AWS's default quotas for Classic Load Balancers (per account and region); the number of load
# balancers is the cloud property's.
QUOTA_PROPERTY = "services.loadbalancing.max_loadbalancers_per_account"
MAX_LISTENERS = 100
MAX_INSTANCES = 1000
PAGE_SIZE = 400
SCHEMES = ("internet-facing", "internal")


def check_certificates(s: Session, account_id: str, items: list[checks.Listener]) -> None:
    """Every secure listener names a server certificate of the caller's account."""
    for item in items:
        if item.certificate and server_certificates.find(s, item.certificate, account_id) is None:
            raise errors.certificate_not_found(item.certificate)


def check_new_listeners(lb_name: str, items: list[checks.Listener]) -> None:
    ports: dict[int, checks.Listener] = {}
    for item in items:
        if ports.setdefault(item.lb_port, item) != item:
            raise errors.duplicate_listener(lb_name, item.lb_port)
    checks.instance_protocols_agree(items)


def listener_row(lb_id: str, item: checks.Listener) -> ElbListener:
    return ElbListener(
        lb_id=lb_id,
        lb_port=item.lb_port,
        protocol=item.protocol,
        instance_port=item.instance_port,
        instance_protocol=item.instance_protocol,
        ssl_certificate_id=item.certificate,
        policy_names="[]",
    )


def as_listener(row: ElbListener) -> checks.Listener:
    return checks.Listener(
        row.lb_port, row.protocol, row.instance_port, row.instance_protocol, row.ssl_certificate_id
    )


def _placement(
    rt: Runtime, s: Session, account_id: str, params: Params
) -> tuple[list[str], list[str], str | None, list[str]]:
    """(zones, subnets, VPC id, security groups) of a new load balancer."""
    zones = [str(z) for z in params.get("AvailabilityZones") or []]
    subnet_ids = [str(i) for i in params.get("Subnets") or []]
    groups = [str(g) for g in params.get("SecurityGroups") or []]
    if not subnet_ids:
        if not zones:
            raise errors.validation("Either AvailabilityZones or SubnetIds must be specified")
        if groups:
            raise errors.invalid_configuration(
                "Security groups are supported only for load balancers in a VPC (use Subnets)"
            )
        if params.get("Scheme") == "internal":
            raise errors.invalid_configuration(
                "The requested scheme internal is not supported for load balancers outside a VPC"
            )
        return rows.known_zones(rt, s, zones), [], None, []
    found = network.subnets(s, account_id, subnet_ids)
    subnet_zones = [r.zone for r in found]
    if zones and set(zones) != set(subnet_zones):
        raise errors.validation("AvailabilityZones must be the zones of the given Subnets")
    vpc_id = found[0].vpc_id
    return (
        subnet_zones,
        [r.id for r in found],
        vpc_id,
        network.security_groups(s, account_id, vpc_id, groups),
    )


def _new_id(s: Session) -> str:
    while True:
        candidate = secrets.token_hex(4)
        if s.get(ElbLoadBalancer, candidate) is None:
            return candidate


def create_load_balancer(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    name = checks.lb_name(params.get("LoadBalancerName"))
    items = checks.listeners(params.get("Listeners"))
    check_new_listeners(name, items)
    scheme = str(params.get("Scheme") or "internet-facing")
    if scheme not in SCHEMES:
        raise errors.invalid_scheme(f"Invalid scheme {scheme!r}: internet-facing or internal")
    tags = checks.tags(params.get("Tags"))
    domain = rows.elb_domain(rt)
    with rt.store.session() as s:
        existing = rows.find(s, account, name)
        if existing is not None:
            have = s.scalars(select(ElbListener).where(ElbListener.lb_id == existing.id)).all()
            # AWS: creating one that exists with the same listeners answers it again.
            if {as_listener(r) for r in have} == set(items):
                return {"DNSName": existing.dns_name}
            raise errors.duplicate_name(name)
        count = s.scalar(select(func.count()).where(ElbLoadBalancer.account_id == account)) or 0
        quota = properties.get_int(rt.store, QUOTA_PROPERTY)
        if count >= quota:
            raise errors.too_many_load_balancers(quota)
        zones, subnets, vpc_id, groups = _placement(rt, s, account, params)
        if scheme == "internal":
            # Its workers would need no public address and DNS answers of the subnets'
            # interfaces, which this cloud does not give yet: refused rather than published.
            raise errors.invalid_configuration(
                "The requested scheme internal is not supported by this cloud: load "
                "balancers are internet-facing"
            )
        check_certificates(s, account, items)
        lb_id = _new_id(s)
        prefix = "internal-" if scheme == "internal" else ""
        dns_name = f"{prefix}{name}-{lb_id}.{domain}"
        s.add(
            ElbLoadBalancer(
                id=lb_id,
                account_id=account,
                name=name,
                dns_name=dns_name,
                scheme=scheme,
                created_at=now(),
                zones=rows.dump(zones),
                subnets=rows.dump(subnets),
                security_groups=rows.dump(groups),
                vpc_id=vpc_id,
            )
        )
        s.flush()
        lb = s.get(ElbLoadBalancer, lb_id)
        if lb is not None and subnets:
            interfaces.sync(s, lb, network.subnets(s, account, subnets), groups)
        for item in items:
            s.add(listener_row(lb_id, item))
        for key, value in tags:
            s.add(ElbTag(lb_id=lb_id, key=key, value=value))
        bump_elb(s)
    return {"DNSName": dns_name}


def delete_load_balancer(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    # AWS: deleting a load balancer that does not exist succeeds.
    name = str(params.get("LoadBalancerName") or "")
    with rt.store.session() as s:
        lb = rows.find(s, ctx.principal.account_id, name)
        if lb is None:
            return {}
        # Children first: the foreign keys cascade, but not every database enforces them.
        for table in (
            ElbListener,
            ElbPolicy,
            ElbBackendPolicies,
            ElbInstance,
            ElbInstanceHealth,
            ElbTag,
        ):
            s.execute(delete(table).where(table.lb_id == lb.id))
        interfaces.drop_all(s, lb.id)
        s.delete(lb)
        bump_elb(s)
    return {}


def _page_size(params: Params) -> int:
    size = params.get("PageSize")
    return PAGE_SIZE if size is None else checks.bounded(size, "PageSize", 1, 400)


def describe_load_balancers(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    wanted = [str(n) for n in params.get("LoadBalancerNames") or []]
    size = _page_size(params)
    marker = params.get("Marker")
    start = None
    if marker:
        start = page_tokens.decode(str(marker))
        if start is None:
            raise errors.validation("Invalid Marker")
    domain = rows.elb_domain(rt)
    with rt.store.read() as s:
        stmt = select(*views.LB_COLUMNS).where(ElbLoadBalancer.account_id == account)
        if wanted:
            stmt = stmt.where(ElbLoadBalancer.name.in_(wanted))
            have = set(
                s.scalars(
                    select(ElbLoadBalancer.name).where(
                        ElbLoadBalancer.account_id == account, ElbLoadBalancer.name.in_(wanted)
                    )
                ).all()
            )
            missing = [n for n in wanted if n not in have]
            if missing:
                raise errors.lb_not_found(missing[0])
        if start is not None:
            stmt = stmt.where(ElbLoadBalancer.name >= start)
        page = stmt.order_by(ElbLoadBalancer.name)
        found = s.execute(page.limit(size + 1)).all()
        ids = page.with_only_columns(ElbLoadBalancer.id).limit(size)
        out: dict[str, Any] = {
            "LoadBalancerDescriptions": views.describe_many(s, found[:size], domain, ids)
        }
    if len(found) > size:
        out["NextMarker"] = page_tokens.encode(found[size].name)
    return out


def describe_account_limits(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    if params.get("PageSize") is not None:
        checks.bounded(params["PageSize"], "PageSize", 1, 400)
    return {
        "Limits": [
            {
                "Name": "classic-load-balancers",
                "Max": str(properties.get_int(rt.store, QUOTA_PROPERTY)),
            },
            {"Name": "classic-listeners", "Max": str(MAX_LISTENERS)},
            {"Name": "classic-registered-instances", "Max": str(MAX_INSTANCES)},
        ]
    }


OPERATIONS: Operations = {
    "CreateLoadBalancer": create_load_balancer,
    "DeleteLoadBalancer": delete_load_balancer,
    "DescribeLoadBalancers": describe_load_balancers,
    "DescribeAccountLimits": describe_account_limits,
}
