"""eulb-* option values, parsed with euca2ools' rules and messages: listeners, policy
attributes, comma-separated lists, health check targets."""

from __future__ import annotations

import argparse
from typing import Any

from mallee.euca.errors import CommandError

PROTOCOLS = ("HTTP", "HTTPS", "SSL", "TCP")
_LISTENER_KEYS = ("protocol", "lb-port", "instance-port", "instance-protocol", "cert-id")
# An instance protocol must be of the same layer as the front end's.
_LAYER = {"HTTP": "HTTP", "HTTPS": "HTTP", "SSL": "TCP", "TCP": "TCP"}


def names(text: str) -> list[str]:
    """NAME1,NAME2,... (empty items dropped, as euca2ools' delimited_list)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def instances(text: str) -> list[dict[str, str]]:
    return [{"InstanceId": i} for i in names(text)]


def ports(text: str) -> list[int]:
    try:
        return [int(p) for p in names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of port numbers") from None


def _port(pairs: dict[str, str], key: str, raw: str) -> int:
    if key not in pairs:
        raise argparse.ArgumentTypeError(f"listener '{raw}': {key} is required")
    try:
        return int(pairs[key])
    except ValueError:
        raise argparse.ArgumentTypeError(f"listener '{raw}': {key} must be an integer") from None


def listener(raw: str) -> dict[str, Any]:
    """ "lb-port=80, protocol=HTTP, instance-port=80[, instance-protocol=..][, cert-id=ARN]"."""
    pairs: dict[str, str] = {}
    for item in raw.strip().split(","):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or "=" in value:
            raise argparse.ArgumentTypeError(
                f"listener '{raw}': element '{item}' must have format KEY=VALUE"
            )
        pairs[key.strip()] = value.strip()
    extra = sorted(set(pairs) - set(_LISTENER_KEYS))
    if extra:
        listed = ", ".join(f"'{k}'" for k in extra)
        raise argparse.ArgumentTypeError(f"listener '{raw}': invalid element(s): {listed}")
    protocol = pairs.get("protocol")
    if protocol is None:
        raise argparse.ArgumentTypeError(f"listener '{raw}': protocol is required")
    if protocol not in PROTOCOLS:
        raise argparse.ArgumentTypeError(
            f"listener '{raw}': protocol '{protocol}' is invalid "
            "(choose from 'HTTP', 'HTTPS', 'SSL', 'TCP')"
        )
    out: dict[str, Any] = {
        "Protocol": protocol,
        "LoadBalancerPort": _port(pairs, "lb-port", raw),
        "InstancePort": _port(pairs, "instance-port", raw),
    }
    inner = pairs.get("instance-protocol")
    if inner is not None:
        if inner not in PROTOCOLS:
            raise argparse.ArgumentTypeError(
                f"listener '{raw}': instance-protocol '{inner}' is invalid "
                "(choose from 'HTTP', 'HTTPS', 'SSL', 'TCP')"
            )
        if _LAYER[inner] != _LAYER[protocol]:
            pair = "'HTTP' or 'HTTPS'" if _LAYER[inner] == "HTTP" else "'SSL' or 'TCP'"
            raise argparse.ArgumentTypeError(
                f"listener '{raw}': instance-protocol must be {pair} when protocol is {pair}"
            )
        out["InstanceProtocol"] = inner
    if "cert-id" in pairs:
        out["SSLCertificateId"] = pairs["cert-id"]
    return out


def attribute(raw: str) -> dict[str, str]:
    """ "name=NAME, value=VALUE": one policy attribute."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "name":
            out["AttributeName"] = value.strip()
        elif key.strip() == "value":
            out["AttributeValue"] = value.strip()
        else:
            raise argparse.ArgumentTypeError(
                f"attribute '{raw}': '{key.strip()}' is not a valid part of an attribute "
                "(choose from 'name', 'value')"
            )
    for part, name in (("AttributeName", "name"), ("AttributeValue", "value")):
        if part not in out:
            raise argparse.ArgumentTypeError(f"attribute '{raw}': {name} is required")
    return out


def check_target(target: str) -> str:
    """PROTOCOL:PORT[/PATH], with the path HTTP(S) needs."""
    protocol, _, rest = target.partition(":")
    if not rest:
        raise CommandError("argument -t/--target: must have form PROTOCOL:PORT[/PATH]", status=2)
    if protocol.lower() in ("http", "https") and "/" not in rest:
        raise CommandError(
            f"argument -t/--target: path is required for protocol '{protocol}'", status=2
        )
    return target
