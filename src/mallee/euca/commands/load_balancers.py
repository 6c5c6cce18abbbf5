"""euca2ools' load balancer commands: eulb-create-lb, -delete-lb, -describe-lbs,
-create-lb-listeners, -delete-lb-listeners, -configure-healthcheck, -create-lb-policy and
-set-lb-policies-of-listener, with their options and tab-separated lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands import elb_args
from mallee.euca.paging import all_items

_LISTENER_METAVAR = (
    '"lb-port=PORT, protocol={HTTP,HTTPS,SSL,TCP}, instance-port=PORT, '
    'instance-protocol={HTTP,HTTPS,SSL,TCP}, cert-id=ARN"'
)


def _lb_name(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("name", metavar="ELB", help=help)


def _listeners(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-l",
        "--listener",
        dest="listeners",
        action="append",
        required=True,
        type=elb_args.listener,
        metavar=_LISTENER_METAVAR,
        help="port/protocol settings of a listener (may be repeated; at least 1 required)",
    )


def _create_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the new load balancer (required)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "-s", "--subnets", type=elb_args.names, metavar="SUBNET1,SUBNET2,...",
        help="[VPC only] subnets the load balancer should run in",
    )  # fmt: skip
    where.add_argument(
        "-z", "--availability-zones", type=elb_args.names, metavar="ZONE1,ZONE2,...",
        help="[Non-VPC only] availability zones the load balancer should run in",
    )  # fmt: skip
    _listeners(p)
    p.add_argument("-i", "--scheme", choices=("internal",), metavar="internal")
    p.add_argument("-g", "--security-groups", type=elb_args.names, metavar="GROUP1,GROUP2,...")


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"LoadBalancerName": args.name, "Listeners": args.listeners}
    for key, value in (
        ("Subnets", args.subnets),
        ("AvailabilityZones", args.availability_zones),
        ("Scheme", args.scheme),
        ("SecurityGroups", args.security_groups),
    ):
        if value is not None:
            params[key] = value
    created = ctx.client().create_load_balancer(**params)
    yield ["DNS_NAME", created.get("DNSName")]


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to delete (required)")


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_load_balancer(LoadBalancerName=args.name)
    yield from ()


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="ELB", help="limit results to these")
    p.add_argument("--show-long", action="store_true", help="show all of the load balancers' info")


def _braced(items: Iterable[str]) -> str | None:
    listed = list(items)
    return "{" + ",".join(listed) + "}" if listed else None


def _pairs(source: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> list[str]:
    """name=value for each field the answer has a (non-empty) value for, in euca2ools' order."""
    return [f"{name}={source[key]}" for name, key in fields if source.get(key)]


_CHECK_FIELDS = (
    ("interval", "Interval"),
    ("target", "Target"),
    ("timeout", "Timeout"),
    ("healthy-threshold", "HealthyThreshold"),
    ("unhealthy-threshold", "UnhealthyThreshold"),
)
_LISTENER_FIELDS = (
    ("protocol", "Protocol"),
    ("lb-port", "LoadBalancerPort"),
    ("instance-protocol", "InstanceProtocol"),
    ("instance-port", "InstancePort"),
    ("cert-id", "SSLCertificateId"),
)


def _listener_text(desc: dict[str, Any]) -> str:
    bits = _pairs(desc.get("Listener") or {}, _LISTENER_FIELDS)
    if desc.get("PolicyNames"):
        bits.append("{" + ",".join(desc["PolicyNames"]) + "}")
    return "{" + ",".join(bits) + "}"


def _backend_text(desc: dict[str, Any]) -> str:
    bits = []
    if "InstancePort" in desc:
        bits.append(f"instance-port={desc['InstancePort']}")
    if "PolicyNames" in desc:
        bits.append("policies={" + ",".join(desc["PolicyNames"]) + "}")
    return "{" + ",".join(bits) + "}"


def _long_fields(lb: dict[str, Any]) -> list[object]:
    """--show-long's fields between the DNS name and the creation time (euca2ools' order)."""
    check = lb.get("HealthCheck")
    policies = lb.get("Policies") or {}
    bits: list[object] = [
        lb.get("CanonicalHostedZoneName"),
        lb.get("CanonicalHostedZoneNameID"),
        _braced(_pairs(check, _CHECK_FIELDS)) if check else None,
        ",".join(lb.get("AvailabilityZones") or []),
        ",".join(lb.get("Subnets") or []),
        lb.get("VPCId"),
        ",".join(i.get("InstanceId", "") for i in lb.get("Instances") or []),
        ",".join(_listener_text(d) for d in lb.get("ListenerDescriptions") or []) or None,
        ",".join(_backend_text(d) for d in lb.get("BackendServerDescriptions") or []) or None,
    ]
    # euca2ools prints cookie-name for both kinds, but an LB cookie policy has none (its
    # print fails on one): that kind shows its expiration period instead.
    for kind, second, key in (
        ("AppCookieStickinessPolicies", "cookie-name", "CookieName"),
        ("LBCookieStickinessPolicies", "cookie-expiration-period", "CookieExpirationPeriod"),
    ):
        sticky = [
            f"{{policy-name={p.get('PolicyName')},{second}={p.get(key, '')}}}"
            for p in policies.get(kind) or []
        ]
        bits.append(",".join(sticky) or None)
    bits.append(_braced(policies.get("OtherPolicies") or []))
    group = lb.get("SourceSecurityGroup")
    bits.append(
        f"{{owner-alias={group.get('OwnerAlias', '')},group-name={group.get('GroupName', '')}}}"
        if group
        else None
    )
    bits.append(_braced(lb.get("SecurityGroups") or []))
    return bits


def lb_line(lb: dict[str, Any], long: bool) -> list[object]:
    """euca2ools' LOAD_BALANCER line (DescribeLoadBalancers.print_result)."""
    bits: list[object] = ["LOAD_BALANCER", lb.get("LoadBalancerName"), lb.get("DNSName")]
    if long:
        bits += _long_fields(lb)
    return [*bits, lb.get("CreatedTime"), lb.get("Scheme")]


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"LoadBalancerNames": args.names} if args.names else {}
    for lb in all_items(
        ctx.client(), "describe_load_balancers", "LoadBalancerDescriptions", **params
    ):
        yield lb_line(lb, args.show_long)


def _create_listeners_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to modify (required)")
    _listeners(p)


def _create_listeners(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().create_load_balancer_listeners(
        LoadBalancerName=args.name, Listeners=args.listeners
    )
    yield from ()


def _delete_listeners_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to modify (required)")
    p.add_argument(
        "-l", "--lb-ports", required=True, type=elb_args.ports, metavar="PORT1,PORT2,...",
        help="port numbers of the listeners to remove (required)",
    )  # fmt: skip
    # euca2ools accepts and ignores it, for scripts written for the old tools.
    p.add_argument("--force", action="store_true", help=argparse.SUPPRESS)


def _delete_listeners(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().delete_load_balancer_listeners(
        LoadBalancerName=args.name, LoadBalancerPorts=args.lb_ports
    )
    yield from ()


def _health_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to modify (required)")
    p.add_argument("--healthy-threshold", required=True, type=int, metavar="COUNT")
    p.add_argument("--interval", required=True, type=int, metavar="SECONDS")
    p.add_argument("-t", "--target", required=True, metavar="PROTOCOL:PORT[/PATH]")
    p.add_argument("--timeout", required=True, type=int, metavar="SECONDS")
    p.add_argument("--unhealthy-threshold", required=True, type=int, metavar="COUNT")


def _health(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    check = {
        "Target": elb_args.check_target(args.target),
        "Interval": args.interval,
        "Timeout": args.timeout,
        "HealthyThreshold": args.healthy_threshold,
        "UnhealthyThreshold": args.unhealthy_threshold,
    }
    done = ctx.client().configure_health_check(LoadBalancerName=args.name, HealthCheck=check)
    got = done.get("HealthCheck") or {}
    yield [
        "HEALTH_CHECK",
        got.get("Target"),
        got.get("Interval"),
        got.get("Timeout"),
        got.get("HealthyThreshold"),
        got.get("UnhealthyThreshold"),
    ]


def _policy_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to modify (required)")
    p.add_argument("--policy-name", required=True, metavar="POLICY")
    p.add_argument("--policy-type", required=True, metavar="POLTYPE")
    p.add_argument(
        "-a", "--attribute", dest="attributes", action="append", type=elb_args.attribute,
        metavar='"name=NAME, value=VALUE"', help="an attribute of the policy (may be repeated)",
    )  # fmt: skip


def _policy(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {
        "LoadBalancerName": args.name,
        "PolicyName": args.policy_name,
        "PolicyTypeName": args.policy_type,
    }
    if args.attributes:
        params["PolicyAttributes"] = args.attributes
    ctx.client().create_load_balancer_policy(**params)
    yield from ()


def _listener_policies_arguments(p: argparse.ArgumentParser) -> None:
    _lb_name(p, "name of the load balancer to modify (required)")
    p.add_argument("-l", "--lb-port", required=True, type=int, metavar="PORT")
    # Empty ("") clears the listener's policies, as the API's empty list does.
    p.add_argument("-p", "--policy-names", required=True, type=elb_args.names, metavar="P1,P2,...")


def _listener_policies(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().set_load_balancer_policies_of_listener(
        LoadBalancerName=args.name, LoadBalancerPort=args.lb_port, PolicyNames=args.policy_names
    )
    yield from ()


COMMANDS = (
    Command("eulb-create-lb", "Create a load balancer", "elb", _create_arguments, _create),
    Command("eulb-delete-lb", "Delete a load balancer", "elb", _delete_arguments, _delete),
    Command(
        "eulb-describe-lbs",
        "Show information about load balancers",
        "elb",
        _describe_arguments,
        _describe,
    ),
    Command(
        "eulb-create-lb-listeners",
        "Add one or more listeners to a load balancer",
        "elb",
        _create_listeners_arguments,
        _create_listeners,
    ),
    Command(
        "eulb-delete-lb-listeners",
        "Delete one or more listeners from a load balancer",
        "elb",
        _delete_listeners_arguments,
        _delete_listeners,
    ),
    Command(
        "eulb-configure-healthcheck",
        "Configure health checking for instances registered with a load balancer",
        "elb",
        _health_arguments,
        _health,
    ),
    Command(
        "eulb-create-lb-policy",
        "Add a new policy to a load balancer",
        "elb",
        _policy_arguments,
        _policy,
    ),
    Command(
        "eulb-set-lb-policies-of-listener",
        "Change the policy associated with a load balancer listener",
        "elb",
        _listener_policies_arguments,
        _listener_policies,
    ),
)
