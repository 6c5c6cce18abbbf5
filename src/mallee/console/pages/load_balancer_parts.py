"""What a load balancer's page changes on it: listeners (added, deleted, their stickiness
policy set), the health check, registered instances, attributes, LB cookie stickiness policies
and tags. Every form comes back to the load balancer's page; a refusal is shown there, by the
form, as the API words it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.load_balancer_detail import describe, sticky_policies
from mallee.console.pages.load_balancers import PROTOCOLS, chosen, detail_path, listener

# Health check targets that name a path (the others are a port alone).
_WITH_PATH = frozenset({"HTTP", "HTTPS"})


def _name(ctx: Ctx) -> str:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which load balancer?")
    return name


def _home(ctx: Ctx) -> Response:
    return ctx.back(detail_path(ctx.arg("name")) if ctx.arg("name") else None)


def _number(ctx: Ctx, field: str, what: str) -> int:
    text = ctx.arg(field)
    if not text.isdigit():
        raise BadRequest(f"the {what} must be a whole number")
    return int(text)


def add_listener(ctx: Ctx) -> Response:
    name = _name(ctx)
    found = listener(ctx)
    if found is None:
        raise BadRequest("give the listener's load balancer port")
    ctx.client("elb").create_load_balancer_listeners(LoadBalancerName=name, Listeners=[found])
    ctx.ok(f"Added the listener on port {found['LoadBalancerPort']} to {name}")
    return _home(ctx)


def delete_listener(ctx: Ctx) -> Response:
    name = _name(ctx)
    port = _number(ctx, "port", "load balancer port")
    asked = ctx.confirmed(f"Delete the listener on port {port} of {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("elb").delete_load_balancer_listeners(
        LoadBalancerName=name, LoadBalancerPorts=[port]
    )
    ctx.ok(f"Deleted the listener on port {port} of {name}")
    return _home(ctx)


def health_target(ctx: Ctx) -> str:
    """The Target the form's protocol, port and path make (HTTP:80/index.html, TCP:22)."""
    protocol = ctx.arg("protocol").upper()
    if protocol not in PROTOCOLS:
        raise BadRequest("choose the health check's protocol: " + ", ".join(PROTOCOLS))
    target = f"{protocol}:{ctx.arg('port')}"
    path = ctx.arg("path")
    if protocol in _WITH_PATH:
        # AWS's targets always name a path for HTTP(S); "/" when the form leaves it blank.
        target += path if path.startswith("/") else "/" + path
    elif path:
        target += path  # refused by the API, in its words, as typed
    return target


def configure_health_check(ctx: Ctx) -> Response:
    name = _name(ctx)
    check = {
        "Target": health_target(ctx),
        "Interval": _number(ctx, "interval", "interval"),
        "Timeout": _number(ctx, "timeout", "timeout"),
        "UnhealthyThreshold": _number(ctx, "unhealthy", "unhealthy threshold"),
        "HealthyThreshold": _number(ctx, "healthy", "healthy threshold"),
    }
    answer = ctx.client("elb").configure_health_check(LoadBalancerName=name, HealthCheck=check)
    ctx.ok(f"Health check of {name}: {answer.get('HealthCheck', check).get('Target', '')}")
    return _home(ctx)


def register(ctx: Ctx) -> Response:
    name = _name(ctx)
    picked = chosen(ctx, "instance:")
    if not picked:
        raise BadRequest("choose the instances to register")
    ctx.client("elb").register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": i} for i in picked]
    )
    ctx.ok(f"Registered {', '.join(picked)} with {name}")
    return _home(ctx)


def deregister(ctx: Ctx) -> Response:
    name = _name(ctx)
    instance_id = ctx.arg("instance")
    if not instance_id:
        raise BadRequest("which instance?")
    asked = ctx.confirmed(f"Deregister {instance_id} from {name}?", "Yes, deregister it")
    if asked is not None:
        return asked
    ctx.client("elb").deregister_instances_from_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": instance_id}]
    )
    ctx.ok(f"Deregistered {instance_id} from {name}")
    return _home(ctx)


def attributes(ctx: Ctx) -> Response:
    name = _name(ctx)
    draining: dict[str, Any] = {"Enabled": bool(ctx.arg("draining"))}
    if ctx.arg("draining_timeout"):
        draining["Timeout"] = _number(ctx, "draining_timeout", "draining timeout")
    changes = {
        "CrossZoneLoadBalancing": {"Enabled": bool(ctx.arg("cross_zone"))},
        "ConnectionDraining": draining,
        "ConnectionSettings": {"IdleTimeout": _number(ctx, "idle_timeout", "idle timeout")},
    }
    ctx.client("elb").modify_load_balancer_attributes(
        LoadBalancerName=name, LoadBalancerAttributes=changes
    )
    ctx.ok(f"Saved the attributes of {name}")
    return _home(ctx)


def create_stickiness(ctx: Ctx) -> Response:
    name = _name(ctx)
    policy = ctx.arg("policy")
    if not policy:
        raise BadRequest("give the policy's name")
    params: dict[str, Any] = {"LoadBalancerName": name, "PolicyName": policy}
    if ctx.arg("expiration"):
        params["CookieExpirationPeriod"] = _number(ctx, "expiration", "cookie expiration")
    ctx.client("elb").create_lb_cookie_stickiness_policy(**params)
    ctx.ok(f"Created the LB cookie stickiness policy {policy}")
    return _home(ctx)


def delete_policy(ctx: Ctx) -> Response:
    name = _name(ctx)
    policy = ctx.arg("policy")
    if not policy:
        raise BadRequest("which policy?")
    asked = ctx.confirmed(f"Delete the policy {policy} of {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("elb").delete_load_balancer_policy(LoadBalancerName=name, PolicyName=policy)
    ctx.ok(f"Deleted the policy {policy}")
    return _home(ctx)


def set_listener_stickiness(ctx: Ctx) -> Response:
    """The listener's stickiness policy replaced by the one chosen (or none); its other
    policies (an SSL negotiation policy, say) stay, since SetLoadBalancerPoliciesOfListener
    replaces the whole list."""
    name = _name(ctx)
    port = _number(ctx, "port", "load balancer port")
    policy = ctx.arg("policy")
    lb = describe(ctx, name)
    sticky = {p["name"] for p in sticky_policies(lb)}
    current = next(
        (
            list(d.get("PolicyNames", []))
            for d in lb.get("ListenerDescriptions", [])
            if d.get("Listener", {}).get("LoadBalancerPort") == port
        ),
        [],
    )
    kept = [p for p in current if p not in sticky]
    ctx.client("elb").set_load_balancer_policies_of_listener(
        LoadBalancerName=name,
        LoadBalancerPort=port,
        PolicyNames=kept + ([policy] if policy else []),
    )
    told = f"now sticks by {policy}" if policy else "no longer sticks"
    ctx.ok(f"The listener on port {port} {told}")
    return _home(ctx)


def add_tag(ctx: Ctx) -> Response:
    name = _name(ctx)
    key = ctx.arg("key")
    if not key:
        raise BadRequest("give the tag's key")
    value = ctx.form.get("value", "")
    ctx.client("elb").add_tags(LoadBalancerNames=[name], Tags=[{"Key": key, "Value": value}])
    ctx.ok(f"Tagged {name}: {key} = {value}")
    return _home(ctx)


def remove_tag(ctx: Ctx) -> Response:
    name = _name(ctx)
    key = ctx.form.get("key", "")
    asked = ctx.confirmed(f"Remove the tag {key!r} from {name}?", "Yes, remove it")
    if asked is not None:
        return asked
    ctx.client("elb").remove_tags(LoadBalancerNames=[name], Tags=[{"Key": key}])
    ctx.ok(f"Removed the tag {key} from {name}")
    return _home(ctx)


_LB = "/load-balancers"
ROUTES = [
    Route("POST", _LB + "/listeners/create", add_listener, _LB),
    Route("POST", _LB + "/listeners/delete", delete_listener, _LB),
    Route("POST", _LB + "/listeners/stickiness", set_listener_stickiness, _LB),
    Route("POST", _LB + "/health-check", configure_health_check, _LB),
    Route("POST", _LB + "/instances/register", register, _LB),
    Route("POST", _LB + "/instances/deregister", deregister, _LB),
    Route("POST", _LB + "/attributes", attributes, _LB),
    Route("POST", _LB + "/policies/create", create_stickiness, _LB),
    Route("POST", _LB + "/policies/delete", delete_policy, _LB),
    Route("POST", _LB + "/tags", add_tag, _LB),
    Route("POST", _LB + "/tags/delete", remove_tag, _LB),
]
