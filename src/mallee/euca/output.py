"""euca2ools' output conventions: tab-separated fields, empty for missing values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Printed for empty fields with --show-empty-fields, as euca2ools does.
NIL = "(nil)"


def field(value: object) -> str:
    """One field as euca2ools prints it: the wire's text (true/false, numbers), '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tabify(fields: Iterable[object], empty: str = "") -> str:
    return "\t".join(field(v) or empty for v in fields)


def render(line: str | Sequence[object], empty: str = "") -> str:
    return line if isinstance(line, str) else tabify(line, empty)


# Id prefix -> the resource type TAG lines and DescribeTags name (euca2ools' map, plus mallee's).
_RESOURCE_TYPES = {
    "eipalloc": "allocation-id",
    "ami": "image",
    "aki": "image",
    "ari": "image",
    "emi": "image",
    "eki": "image",
    "eri": "image",
    "i": "instance",
    "igw": "internet-gateway",
    "acl": "network-acl",
    "eni": "network-interface",
    "rtb": "route-table",
    "sg": "security-group",
    "snap": "snapshot",
    "subnet": "subnet",
    "vol": "volume",
    "vpc": "vpc",
    "dopt": "dhcp-options",
    "cgw": "customer-gateway",
    "vgw": "vpn-gateway",
    "vpn": "vpn-connection",
    "pcx": "vpc-peering-connection",
    "key": "key-pair",
}


def resource_type(resource_id: str) -> str | None:
    prefix, dash, _ = resource_id.partition("-")
    return _RESOURCE_TYPES.get(prefix) if dash else None


def tag_line(resource_id: str, key: object, value: object) -> list[object]:
    return ["TAG", resource_type(resource_id), resource_id, key, value]


def tag_lines(resource_id: str, tags: Iterable[dict[str, object]] | None) -> list[list[object]]:
    return [tag_line(resource_id, t.get("Key"), t.get("Value")) for t in tags or []]
