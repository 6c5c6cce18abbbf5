"""One load balancer's page: its DNS name and facts, listeners with their policies, the health
check, its instances with the health DescribeInstanceHealth reports (polled by htmx), running
instances it may take, its attributes, stickiness policies and tags."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.common import instances
from mallee.console.pages.load_balancers import (
    PROTOCOLS,
    certificates,
    detail_path,
    listener_text,
)

# How often the instances' health is asked for again while any is registered: health checks
# change it at any time, without anyone acting on the page.
HEALTH_POLL = "every 5s"


def describe(ctx: Ctx, name: str) -> dict[str, Any]:
    """The load balancer's description; LoadBalancerNotFound, as the API says it, if none."""
    found: list[dict[str, Any]] = ctx.client("elb").describe_load_balancers(
        LoadBalancerNames=[name]
    )["LoadBalancerDescriptions"]
    if not found:
        raise BadRequest(f"no load balancer {name}")
    return found[0]


def sticky_policies(lb: dict[str, Any]) -> list[dict[str, Any]]:
    """The stickiness policies it holds, LB cookie and application cookie alike."""
    policies = lb.get("Policies", {})
    out = [
        {
            "name": p.get("PolicyName", ""),
            "kind": "LB cookie",
            "detail": (
                f"expires after {p['CookieExpirationPeriod']} s"
                if p.get("CookieExpirationPeriod") is not None
                else "lasts the browser session"
            ),
        }
        for p in policies.get("LBCookieStickinessPolicies", [])
    ]
    out += [
        {
            "name": p.get("PolicyName", ""),
            "kind": "Application cookie",
            "detail": f"follows the cookie {p.get('CookieName', '')}",
        }
        for p in policies.get("AppCookieStickinessPolicies", [])
    ]
    return out


def _listener(d: dict[str, Any], sticky: set[str]) -> dict[str, Any]:
    x = d.get("Listener", {})
    names = list(d.get("PolicyNames", []))
    return {
        "protocol": x.get("Protocol", ""),
        "port": x.get("LoadBalancerPort", ""),
        "instance_protocol": x.get("InstanceProtocol") or x.get("Protocol", ""),
        "instance_port": x.get("InstancePort", ""),
        "certificate": x.get("SSLCertificateId", ""),
        "policies": names,
        "sticky": next((n for n in names if n in sticky), ""),
        "text": listener_text(x),
    }


def health_rows(ctx: Ctx, name: str) -> list[dict[str, str]]:
    states = ctx.client("elb").describe_instance_health(LoadBalancerName=name)
    return [
        {
            "id": s.get("InstanceId", ""),
            "state": s.get("State", ""),
            "reason": s.get("ReasonCode", ""),
            "description": s.get("Description", ""),
        }
        for s in states.get("InstanceStates", [])
    ]


def _health_check(lb: dict[str, Any]) -> dict[str, Any]:
    check = lb.get("HealthCheck", {})
    target = str(check.get("Target", "TCP:80"))
    protocol, _, rest = target.partition(":")
    port, slash, path = rest.partition("/")
    return {
        "target": target,
        "protocol": protocol,
        "port": port,
        "path": slash + path,
        "interval": check.get("Interval", ""),
        "timeout": check.get("Timeout", ""),
        "unhealthy": check.get("UnhealthyThreshold", ""),
        "healthy": check.get("HealthyThreshold", ""),
    }


def _attributes(ctx: Ctx, name: str) -> dict[str, Any]:
    found = ctx.client("elb").describe_load_balancer_attributes(LoadBalancerName=name)
    attrs = found.get("LoadBalancerAttributes", {})
    draining = attrs.get("ConnectionDraining", {})
    log = attrs.get("AccessLog", {})
    return {
        "cross_zone": bool(attrs.get("CrossZoneLoadBalancing", {}).get("Enabled")),
        "draining": bool(draining.get("Enabled")),
        "draining_timeout": draining.get("Timeout", 300),
        "idle_timeout": attrs.get("ConnectionSettings", {}).get("IdleTimeout", 60),
        "access_log": (
            f"to s3://{log.get('S3BucketName', '')}/{log.get('S3BucketPrefix', '')} "
            f"every {log.get('EmitInterval', 60)} minutes"
            if log.get("Enabled")
            else "off"
        ),
    }


def _tags(ctx: Ctx, name: str) -> list[tuple[str, str]]:
    found = ctx.client("elb").describe_tags(LoadBalancerNames=[name])
    return sorted(
        (t.get("Key", ""), t.get("Value", ""))
        for d in found.get("TagDescriptions", [])
        for t in d.get("Tags", [])
    )


def _candidates(ctx: Ctx, registered: set[str]) -> list[tuple[str, str]]:
    """The account's running instances not yet registered with it."""
    running = [{"Name": "instance-state-name", "Values": ["running"]}]
    out = []
    for i in instances(ctx.client("ec2"), Filters=running):
        if i["InstanceId"] in registered:
            continue
        zone = i.get("Placement", {}).get("AvailabilityZone", "")
        name = next((t["Value"] for t in i.get("Tags") or [] if t.get("Key") == "Name"), "")
        label = " ".join(p for p in (i["InstanceId"], name, zone, i.get("PrivateIpAddress")) if p)
        out.append((str(i["InstanceId"]), label))
    return out


def detail(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which load balancer?")
    lb = describe(ctx, name)
    sticky = sticky_policies(lb)
    sticky_names = {p["name"] for p in sticky}
    health = health_rows(ctx, name)
    registered = {i.get("InstanceId", "") for i in lb.get("Instances", [])}
    facts = [
        ("DNS name", lb.get("DNSName", "")),
        ("Scheme", lb.get("Scheme", "")),
        ("Zones", ", ".join(lb.get("AvailabilityZones", []))),
        ("Subnets", ", ".join(lb.get("Subnets", []))),
        ("VPC", lb.get("VPCId", "")),
        ("Security groups", ", ".join(lb.get("SecurityGroups", []))),
        ("Created", lb.get("CreatedTime", "")),
    ]
    return ctx.page(
        "load_balancer_detail.html",
        f"Load balancer {name}",
        name=name,
        dns=lb.get("DNSName", ""),
        facts=[(k, v) for k, v in facts if v],
        listeners=[_listener(d, sticky_names) for d in lb.get("ListenerDescriptions", [])],
        sticky=sticky,
        sticky_options=[("", "(none)")]
        + [(p["name"], f"{p['name']} ({p['kind']})") for p in sticky],
        protocol_options=[(p, p) for p in PROTOCOLS],
        check=_health_check(lb),
        health=health,
        poll=HEALTH_POLL if health else "",
        candidates=_candidates(ctx, registered),
        attributes=_attributes(ctx, name),
        tags=_tags(ctx, name),
        protocols=PROTOCOLS,
        certificates=certificates(ctx),
        here=detail_path(name),
    )


def health(ctx: Ctx) -> Response:
    """The instances' rows alone, for htmx's polling."""
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which load balancer?")
    rows = health_rows(ctx, name)
    return ctx.fragment(
        "_lb_health_rows.html",
        name=name,
        health=rows,
        poll=HEALTH_POLL if rows else "",
        here=detail_path(name),
    )


ROUTES = [
    Route("GET", "/load-balancers/detail", detail, "/load-balancers"),
    Route("GET", "/load-balancers/health", health, "/load-balancers"),
]
