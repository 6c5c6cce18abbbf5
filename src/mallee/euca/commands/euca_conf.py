"""euca_conf: register and deregister the cloud's services (Eucalyptus' admin tool).

Both generations of its options work:
  4.x   --register-service -T TYPE -H HOST -N NAME [-P ZONE] [--port PORT]
  3.x   --register-cluster -P ZONE -H HOST -C NAME   (also --register-sc, --register-walrus)
  2.x   --register-cluster ZONE [HOST], --register-sc ZONE [HOST], --register-walrus [HOST]
  all   --register-nodes "HOST ...", --deregister-nodes "HOST ..."
Eucalyptus' component kinds map to mallee's service types: a cluster controller's scheduling is
mallee's `controller`, a storage controller is `storage`, Walrus is `objectstorage` and a node
controller is `node` (named node-<host>, the name `mallee node` claims on that host).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from urllib.parse import urlsplit

from mallee.euca.command import Command, Context, Line
from mallee.euca.commands.services import service_row
from mallee.euca.errors import CommandError

# euca_conf component option -> (mallee service type, name for the 2.x form, zoned).
KINDS: dict[str, tuple[str, str, bool]] = {
    "cluster": ("controller", "{zone}", True),
    "sc": ("storage", "sc-{zone}", True),
    "walrus": ("objectstorage", "walrus", False),
}
_ZONED_TYPES = frozenset({"node", "storage"})


def _arguments(p: argparse.ArgumentParser) -> None:
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--register-service", action="store_true", help="register a service")
    action.add_argument("--deregister-service", action="store_true", help="deregister a service")
    action.add_argument("--register-nodes", metavar='"HOST ..."', help="register node controllers")
    action.add_argument("--deregister-nodes", metavar='"HOST ..."', help="deregister nodes")
    for kind in KINDS:
        action.add_argument(
            f"--register-{kind}", nargs="*", metavar="ARG", help=f"register a {kind}"
        )
        action.add_argument(
            f"--deregister-{kind}", nargs="*", metavar="NAME", help=f"deregister a {kind}"
        )
    action.add_argument("--list-services", action="store_true", help="euca-describe-services -A")
    action.add_argument("--list-nodes", action="store_true", help="show the node controllers")
    p.add_argument("-T", "--service-type", metavar="TYPE", help="service type (user-api, ...)")
    p.add_argument("-H", "--host", metavar="HOST", help="host the service runs on")
    p.add_argument("-N", "--service-name", metavar="NAME", help="service name")
    p.add_argument("-C", "--component", metavar="NAME", help="service name (3.x spelling)")
    p.add_argument("-P", "--partition", metavar="ZONE", help="availability zone")
    p.add_argument("--port", type=int, metavar="PORT", help="service port")


def _default_host(ctx: Context) -> str:
    # Cloud-in-a-box: the service runs where the cloud's API does.
    return urlsplit(ctx.url("empyrean")).hostname or "127.0.0.1"


def _default_zone(ctx: Context) -> str:
    zones = ctx.client("ec2").describe_availability_zones().get("AvailabilityZones") or []
    if len(zones) != 1:
        raise CommandError("this cloud has several availability zones: choose one with -P ZONE")
    return str(zones[0]["ZoneName"])


def _register(
    ctx: Context, type_: str, name: str, host: str, zone: str | None, port: int | None
) -> Iterator[Line]:
    client = ctx.client()
    params: dict[str, object] = {"Type": type_, "Name": name, "Host": host}
    if zone:
        params["Partition"] = zone
    if port:
        params["Port"] = port
    client.register_service(**params)
    for status in client.describe_services(ServiceName=[name]).get("ServiceStatuses") or []:
        yield service_row(status)


def _deregister(ctx: Context, name: str, type_: str | None = None) -> Iterator[Line]:
    params = {"Name": name, **({"Type": type_} if type_ else {})}
    ctx.client().deregister_service(**params)
    yield ["RESPONSE", True]


def _service(ctx: Context, args: argparse.Namespace, register: bool) -> Iterator[Line]:
    name = args.service_name or args.component
    if not name:
        raise CommandError("-N/--service-name is required", status=2)
    if not register:
        return _deregister(ctx, name, args.service_type)
    if not args.service_type:
        raise CommandError("-T/--service-type is required", status=2)
    zone = args.partition
    if not zone and args.service_type.lower() in _ZONED_TYPES:
        zone = _default_zone(ctx)
    host = args.host or _default_host(ctx)
    return _register(ctx, args.service_type, name, host, zone, args.port)


def _component(
    ctx: Context, args: argparse.Namespace, kind: str, words: list[str]
) -> Iterator[Line]:
    type_, name_pattern, zoned = KINDS[kind]
    if len(words) > (2 if zoned else 1):
        raise CommandError(f"--register-{kind}: too many arguments: {' '.join(words)}", status=2)
    zone = args.partition or (words[0] if zoned and words else None)
    host = args.host or (words[-1] if len(words) == (2 if zoned else 1) else None)
    if zoned and not zone:
        zone = _default_zone(ctx)
    name = args.component or args.service_name or name_pattern.format(zone=zone)
    return _register(ctx, type_, name, host or _default_host(ctx), zone, args.port)


def _node_names(ctx: Context, hosts: str) -> list[str]:
    """The registered node services on each host (any name), or node-<host> if none."""
    names: list[str] = []
    for host in hosts.split():
        found = ctx.client().describe_services(ByServiceType="node", ByHost=host)
        listed = [s["ServiceId"]["Name"] for s in found.get("ServiceStatuses") or []]
        if not listed:
            raise CommandError(f"no node is registered on host {host}")
        names += listed
    return names


def _nodes(ctx: Context, args: argparse.Namespace, hosts: str, register: bool) -> Iterator[Line]:
    if not hosts.split():
        raise CommandError("name at least one node host", status=2)
    if not register:
        for name in _node_names(ctx, hosts):
            yield from _deregister(ctx, name, "node")
        return
    zone = args.partition or _default_zone(ctx)
    for host in hosts.split():
        yield from _register(ctx, "node", f"node-{host}", host, zone, args.port)


def _list(ctx: Context, **params: object) -> Iterator[Line]:
    for status in ctx.client().describe_services(**params).get("ServiceStatuses") or []:
        yield service_row(status)


def _run(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    if args.register_service or args.deregister_service:
        return _service(ctx, args, register=args.register_service)
    if args.register_nodes is not None or args.deregister_nodes is not None:
        register = args.register_nodes is not None
        return _nodes(ctx, args, args.register_nodes or args.deregister_nodes or "", register)
    if args.list_services:
        return _list(ctx, ListAll=True)
    if args.list_nodes:
        return _list(ctx, ByServiceType="node")
    for kind, (type_, _, _) in KINDS.items():
        words = getattr(args, f"register_{kind}")
        if words is not None:
            return _component(ctx, args, kind, words)
        names = getattr(args, f"deregister_{kind}")
        if names is not None:
            return _deregister_all(ctx, type_, names or [args.component or args.service_name])
    raise CommandError("choose an action, e.g. --register-service", status=2)


def _deregister_all(ctx: Context, type_: str, names: list[str | None]) -> Iterator[Line]:
    if not all(names):
        raise CommandError("name the service to deregister (-C NAME)", status=2)
    for name in names:
        yield from _deregister(ctx, str(name), type_)


EUCA_CONF = Command(
    name="euca_conf",
    help="Register and deregister the cloud's services",
    service="empyrean",
    arguments=_arguments,
    run=_run,
)
