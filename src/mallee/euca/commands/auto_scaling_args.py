"""Option types and shared options of the euscale-* commands, with euca2ools 3's forms and
messages (its autoscaling argtypes): comma lists, --tag definitions, block device mappings as
Auto Scaling takes them, base64 user data, and the cooldown switches."""

from __future__ import annotations

import argparse
import base64
from typing import Any

from mallee.euca import args as opts
from mallee.euca.commands import instances

_TAG_KEYS = {"k": "Key", "v": "Value", "id": "ResourceId", "t": "ResourceType"}


def names(text: str) -> list[str]:
    """NAME1,NAME2,... (empty items dropped, as euca2ools' delimited_list)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def tag(raw: str) -> dict[str, Any]:
    """ "k=KEY, v=VALUE, id=GROUP, t=auto-scaling-group, p=true": one group tag."""
    out: dict[str, Any] = {}
    for piece in (p.strip() for p in raw.split(",")):
        key, eq, value = piece.partition("=")
        if not eq:
            raise argparse.ArgumentTypeError(
                f"invalid tag definition: each segment of '{piece}' must have format KEY=VALUE"
            )
        if key in _TAG_KEYS:
            out[_TAG_KEYS[key]] = value
        elif key == "p":
            if value.lower() not in ("true", "false"):
                raise argparse.ArgumentTypeError("value for 'p=' must be 'true' or 'false'")
            out["PropagateAtLaunch"] = value.lower() == "true"
        else:
            raise argparse.ArgumentTypeError(f"unrecognized tag segment '{piece}'")
    if not out.get("Key"):
        raise argparse.ArgumentTypeError(
            f"tag '{raw}' must contain a 'k=' segment with a non-empty value"
        )
    return out


def add_tags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tag",
        dest="tags",
        action="append",
        type=tag,
        metavar='"k=VALUE, id=VALUE, t=VALUE, v=VALUE, p={true,false}"',
        help="a tag for the group (may be repeated): k= is its key (required), v= its value, "
        "p= whether instances launched by the group get it",
    )


def block_device_mapping(raw: str) -> dict[str, Any]:
    """DEVICE=none|ephemeralN|[SNAP]:[GiB]:[true|false]: EC2's form, with Auto Scaling's
    NoDevice (a boolean, where EC2's is an empty string)."""
    mapping = instances.block_device_mapping(raw)
    if "NoDevice" in mapping:
        mapping["NoDevice"] = True
    return mapping


def block_device_mappings(text: str) -> list[dict[str, Any]]:
    return [block_device_mapping(item) for item in names(text)]


def user_data(args: argparse.Namespace) -> str | None:
    """-d/--user-data-force/-f as EC2 takes them, base64-encoded: Auto Scaling's UserData is
    sent as it is stored, and botocore encodes it only for EC2's RunInstances."""
    data = opts.user_data(args)
    return None if data is None else base64.b64encode(data.encode()).decode("ascii")


def add_cooldown_switches(p: argparse.ArgumentParser) -> None:
    """-h/--honor-cooldown and -H/--no-honor-cooldown: euca2ools' -h is not help (--help
    still is), so the parser lets the later -h take it over."""
    # Options land in the parser's own "options" group, which copied the parser's handler
    # when it was made: both must resolve.
    for container in (p, p._optionals):
        container.conflict_handler = "resolve"
    p.add_argument(
        "-h",
        "--honor-cooldown",
        dest="honor_cooldown",
        action="store_const",
        const=True,
        help="reject the request if the group is in cooldown (default: override any cooldown)",
    )
    p.add_argument(
        "-H",
        "--no-honor-cooldown",
        dest="honor_cooldown",
        action="store_const",
        const=False,
        help="override any cooldown period (the default)",
    )


def put(params: dict[str, Any], **values: Any) -> dict[str, Any]:
    """`params` with each of `values` that was given (not None)."""
    params.update({k: v for k, v in values.items() if v is not None})
    return params
