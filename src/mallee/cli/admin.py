"""`mallee services|nodes|properties|accounts ...`: the cloud admin's tasks, over the API.

Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (an eucarc sourced), else from
the `mallee-admin` profile `mallee up` wrote in the data directory; the endpoint from
AWS_ENDPOINT_URL, else the local cloud's. Every command prints a table, or JSON with
`--output json` for scripts. Errors are one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mallee.api.models.client import mallee_client
from mallee.config import Settings

Rows = list[dict[str, Any]]


class AdminError(Exception):
    """What went wrong, as one sentence for the admin."""


def _credentials(settings: Settings) -> tuple[str, str]:
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    path = settings.data_dir / "credentials" / "aws-credentials"
    profiles = configparser.ConfigParser()
    profiles.read(path)
    if "mallee-admin" not in profiles:
        raise AdminError(
            f"no credentials: source an eucarc, or run `mallee up` first (it writes {path})"
        )
    section = profiles["mallee-admin"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


# --endpoint of the one command this process runs.
ENDPOINT: dict[str, str] = {}


def client(settings: Settings, service: str) -> Any:
    key, secret = _credentials(settings)
    endpoint = (
        ENDPOINT.get("url")
        or os.environ.get("AWS_ENDPOINT_URL")
        or f"http://{settings.host}:{settings.port}"
    )
    return mallee_client(
        service,
        endpoint,
        region_name=settings.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _services(settings: Settings, kind: str | None) -> Rows:
    # Without -A, Eucalyptus lists no internal services (nodes among them); an admin wants all.
    params: dict[str, Any] = {"ByServiceType": kind} if kind else {"ListAll": True}
    found = client(settings, "empyrean").describe_services(**params)["ServiceStatuses"]
    return [
        {
            "type": s["ServiceId"]["Type"],
            "name": s["ServiceId"]["Name"],
            "partition": s["ServiceId"].get("Partition", ""),
            "host": s["ServiceId"].get("Host", ""),
            "state": s.get("LocalState", ""),
            "epoch": s.get("LocalEpoch", 0),
        }
        for s in found
    ]


def _set_state(settings: Settings, name: str, state: str) -> Rows:
    client(settings, "empyrean").modify_service(Name=name, State=state)
    return [{"name": name, "state": state}]


def _register(settings: Settings, kind: str, args: argparse.Namespace) -> Rows:
    params = {"Type": kind, "Name": args.name, "Host": args.host}
    if args.port:
        params["Port"] = args.port
    if args.partition:
        params["Partition"] = args.partition
    client(settings, "empyrean").register_service(**params)
    return [{"type": kind, "name": args.name, "host": args.host}]


def _deregister(settings: Settings, kind: str, name: str) -> Rows:
    client(settings, "empyrean").deregister_service(Type=kind, Name=name)
    return [{"type": kind, "name": name, "deregistered": True}]


def _properties(settings: Settings, prefix: str | None) -> Rows:
    params = {"Property": [prefix]} if prefix else {}
    found = client(settings, "empyrean").describe_properties(**params)["Properties"]
    return [{"name": p["Name"], "value": p.get("Value", "")} for p in found]


def _set_property(settings: Settings, name: str, value: str | None) -> Rows:
    params: dict[str, Any] = {"Name": name}
    params.update({"Value": value} if value is not None else {"Reset": True})
    out = client(settings, "empyrean").modify_property_value(**params)
    return [{"name": out["Name"], "value": out.get("Value", ""), "was": out.get("OldValue", "")}]


def _accounts(settings: Settings) -> Rows:
    found = client(settings, "iam").list_accounts()["Accounts"]
    return [{"name": a["AccountName"], "id": a["AccountId"]} for a in found]


def _create_account(settings: Settings, name: str) -> Rows:
    made = client(settings, "iam").create_account(AccountName=name)["Account"]
    return [{"name": made["AccountName"], "id": made["AccountId"]}]


def _delete_account(settings: Settings, name: str, recursive: bool) -> Rows:
    client(settings, "iam").delete_account(AccountName=name, Recursive=recursive)
    return [{"name": name, "deleted": True}]


def add_commands(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    # Options every leaf command takes, wherever they are written on the line.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", choices=("table", "json"), default="table")
    common.add_argument(
        "--endpoint", help="the cloud's api (default $AWS_ENDPOINT_URL, else this host's)"
    )

    class Actions:
        def __init__(self, parent: Any) -> None:
            self._sub = parent.add_subparsers(dest="action", required=True)

        def add_parser(self, name: str) -> Any:
            return self._sub.add_parser(name, parents=[common])

    def command(name: str, help_text: str) -> Actions:
        return Actions(sub.add_parser(name, help=help_text))

    svc = command("services", "the service registry (euca-describe-services, euca_conf)")
    listing = svc.add_parser("list")
    listing.add_argument("--type")
    listing.set_defaults(run=lambda a, st: _services(st, a.type))
    for verb, state in (("enable", "ENABLED"), ("disable", "DISABLED")):
        p = svc.add_parser(verb)
        p.add_argument("name")
        p.set_defaults(run=lambda a, st, state=state: _set_state(st, a.name, state))
    reg = svc.add_parser("register")
    reg.add_argument("--type", required=True)
    reg.add_argument("--name", required=True)
    reg.add_argument("--host", dest="service_host", required=True)
    reg.add_argument("--port", dest="service_port", type=int)
    reg.add_argument("--partition")
    reg.set_defaults(run=lambda a, st: _register(st, a.type, _svc_args(a)))
    dereg = svc.add_parser("deregister")
    dereg.add_argument("--type", required=True)
    dereg.add_argument("name")
    dereg.set_defaults(run=lambda a, st: _deregister(st, a.type, a.name))

    nodes = command("nodes", "node controllers: list, register, enable, disable")
    nodes.add_parser("list").set_defaults(run=lambda a, st: _services(st, "node"))
    for verb, state in (("enable", "ENABLED"), ("disable", "DISABLED")):
        p = nodes.add_parser(verb)
        p.add_argument("name")
        p.set_defaults(run=lambda a, st, state=state: _set_state(st, a.name, state))
    nreg = nodes.add_parser("register")
    nreg.add_argument("name")
    nreg.add_argument("--node-host", dest="node_host", required=True)
    nreg.add_argument("--partition")
    nreg.set_defaults(run=lambda a, st: _register(st, "node", _node_args(a)))
    nder = nodes.add_parser("deregister")
    nder.add_argument("name")
    nder.set_defaults(run=lambda a, st: _deregister(st, "node", a.name))

    props = command("properties", "cloud properties (euca-describe-properties / -modify-)")
    plist = props.add_parser("list")
    plist.add_argument("prefix", nargs="?")
    plist.set_defaults(run=lambda a, st: _properties(st, a.prefix))
    pset = props.add_parser("set")
    pset.add_argument("name")
    pset.add_argument("value")
    pset.set_defaults(run=lambda a, st: _set_property(st, a.name, a.value))
    preset = props.add_parser("reset")
    preset.add_argument("name")
    preset.set_defaults(run=lambda a, st: _set_property(st, a.name, None))

    accts = command("accounts", "accounts (Eucalyptus account administration)")
    accts.add_parser("list").set_defaults(run=lambda a, st: _accounts(st))
    acreate = accts.add_parser("create")
    acreate.add_argument("name")
    acreate.set_defaults(run=lambda a, st: _create_account(st, a.name))
    adel = accts.add_parser("delete")
    adel.add_argument("name")
    adel.add_argument("--recursive", action="store_true")
    adel.set_defaults(run=lambda a, st: _delete_account(st, a.name, a.recursive))

    for name in ("services", "nodes", "properties", "accounts"):
        sub.choices[name].set_defaults(func=lambda a: run(a, settings_of(a)))


def _svc_args(a: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(
        name=a.name, host=a.service_host, port=a.service_port, partition=a.partition
    )


def _node_args(a: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(name=a.name, host=a.node_host, port=None, partition=a.partition)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.endpoint:
        ENDPOINT["url"] = args.endpoint
    try:
        rows = args.run(args, settings)
    except AdminError as err:
        return _fail(args, str(err))
    except ClientError as err:
        error = err.response.get("Error", {})
        return _fail(args, f"{error.get('Code', 'Error')}: {error.get('Message', '')}")
    except BotoCoreError as err:
        return _fail(args, f"cannot reach the cloud: {err}")
    print(json.dumps(rows, indent=2, default=str) if args.output == "json" else table(rows))
    return 0


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"mallee {args.command} {args.action}: {message}", file=sys.stderr)
    return 1


def table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    for row in rows:
        cells = (str(row.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
