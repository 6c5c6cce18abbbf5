"""Security group permissions: parsing requests, normalising, and grouping them as EC2 shows them.

No database here. A request names each permission's peers as CIDRs or as security groups by id,
by name, or by name + owner; `security_groups` resolves the groups and stores one row per
(protocol, ports, peer) as `Rule` describes. Normalised as AWS does, so equal rules compare equal:
protocol numbers 6/17/1 become tcp/udp/icmp and "all" becomes -1; protocols other than tcp, udp
and icmp carry no ports (they allow every port); CIDRs are canonicalised (10.0.0.9/8 ->
10.0.0.0/8), which the duplicate check then sees through.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mallee.api.errors import ServiceError
from mallee.services.ec2 import errors

_NAMED = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}
_ALL = ("-1", "all")
_PORTED = ("tcp", "udp")
# AWS's charset for group names, group descriptions and rule descriptions.
_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*")
TEXT_CHARS = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
_FLAT = ("IpProtocol", "FromPort", "ToPort", "CidrIp")
_FLAT_GROUP = ("SourceSecurityGroupName", "SourceSecurityGroupOwnerId")


@dataclass(frozen=True, slots=True)
class Peer:
    """One source (ingress) or destination (egress) as the request named it."""

    cidr: str | None = None
    group_id: str | None = None
    group_name: str | None = None
    user_id: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PermissionSpec:
    protocol: str
    from_port: int | None
    to_port: int | None
    peers: tuple[Peer, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Rule:
    """One resolved permission: what one Ec2SecurityGroupRule row holds."""

    protocol: str
    from_port: int | None
    to_port: int | None
    cidr: str | None = None
    peer_group_id: str | None = None
    peer_account_id: str | None = None
    description: str = ""

    def key(self) -> tuple[str, int | None, int | None, str | None, str | None]:
        # A rule's identity: the description is a label, not part of it (as AWS).
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.peer_group_id)


class RuleLike(Protocol):
    @property
    def protocol(self) -> str: ...
    @property
    def from_port(self) -> int | None: ...
    @property
    def to_port(self) -> int | None: ...
    @property
    def cidr(self) -> str | None: ...
    @property
    def peer_group_id(self) -> str | None: ...
    @property
    def peer_account_id(self) -> str | None: ...
    @property
    def description(self) -> str: ...


def rule_key(r: RuleLike) -> tuple[str, int | None, int | None, str | None, str | None]:
    return (r.protocol, r.from_port, r.to_port, r.cidr, r.peer_group_id)


def protocol(raw: object) -> str:
    """tcp, udp, icmp, -1 (all) or another IP protocol number 0-255, as a string."""
    text = str(raw if raw is not None else "").strip().lower()
    if text in _NAMED:
        return _NAMED[text]
    if text in _ALL:
        return "-1"
    if text.isdigit() and int(text) <= 255:
        return str(int(text))
    raise errors.invalid_value(f"Invalid value '{raw}' for IP protocol. Unknown protocol.")


def _int(raw: object, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw))
    except ValueError as err:
        raise errors.invalid_value(f"Invalid value '{raw}' for {name}.") from err


def ports(proto: str, from_raw: object, to_raw: object) -> tuple[int | None, int | None]:
    """The stored (from, to): a port range for tcp/udp, (type, code) for icmp, else none."""
    low, high = _int(from_raw, "fromPort"), _int(to_raw, "toPort")
    if proto in _PORTED:
        if low is None or high is None:
            raise errors.invalid_value(
                "Invalid value 'null' for portRange. Must specify both from and to ports "
                "with TCP/UDP."
            )
        if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
            raise errors.invalid_value(
                f"Invalid port range {low}-{high}: TCP/UDP ports run from 0 to 65535 "
                "and fromPort must not exceed toPort."
            )
        return low, high
    if proto == "icmp":
        kind = -1 if low is None else low
        code = -1 if high is None else high
        if not (-1 <= kind <= 255 and -1 <= code <= 255):
            raise errors.invalid_value(
                f"Invalid ICMP type/code {kind}/{code}: each is -1 (any) or 0-255."
            )
        if kind == -1 and code != -1:
            raise errors.invalid_value(
                "Invalid ICMP code: with type -1 (all types) the code must be -1."
            )
        return kind, code
    # -1 and other protocols allow every port, whatever the request says (as AWS).
    return None, None


def canonical_cidr(raw: object) -> str:
    """An IPv4 CIDR with its host bits cleared (AWS canonicalises rather than rejects)."""
    text = str(raw or "").strip()
    if "/" not in text:
        raise errors.invalid_value(f"CIDR block {text} is malformed")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as err:
        raise errors.invalid_value(f"CIDR block {text} is malformed") from err
    if net.version != 4:
        raise errors.invalid_value(f"Invalid IPv4 CIDR {text}: EDGE networking has no IPv6.")
    return str(net)


def text_ok(text: str) -> bool:
    """Only the characters AWS allows in group names and descriptions."""
    return _TEXT.fullmatch(text) is not None


def rule_description(raw: object) -> str:
    text = "" if raw is None else str(raw)
    if len(text) > 255 or not text_ok(text):
        raise errors.invalid_value(
            "Invalid rule description. Valid descriptions are strings less than 256 "
            f"characters from the following set:  {TEXT_CHARS}"
        )
    return text


def _peers(item: Mapping[str, Any]) -> tuple[Peer, ...]:
    if item.get("Ipv6Ranges") or item.get("PrefixListIds"):
        raise errors.invalid_value(
            "IPv6 ranges and prefix lists are not supported by EDGE networking."
        )
    found = [
        Peer(
            cidr=canonical_cidr(r.get("CidrIp")),
            description=rule_description(r.get("Description")),
        )
        for r in item.get("IpRanges") or []
    ]
    for pair in item.get("UserIdGroupPairs") or []:
        group_id, name = pair.get("GroupId"), pair.get("GroupName")
        if not group_id and not name:
            raise errors.missing("groupId or groupName in UserIdGroupPairs")
        found.append(
            Peer(
                group_id=str(group_id) if group_id else None,
                group_name=None if group_id else str(name),
                user_id=str(pair["UserId"]) if pair.get("UserId") else None,
                description=rule_description(pair.get("Description")),
            )
        )
    if not found:
        raise errors.permission_without_peer()
    return tuple(found)


def _spec(item: Mapping[str, Any]) -> PermissionSpec:
    if item.get("IpProtocol") is None:
        raise errors.missing("ipProtocol")
    proto = protocol(item["IpProtocol"])
    low, high = ports(proto, item.get("FromPort"), item.get("ToPort"))
    return PermissionSpec(proto, low, high, _peers(item))


def _flat_group(params: Mapping[str, Any]) -> list[PermissionSpec]:
    """Legacy SourceSecurityGroupName[+OwnerId]: full ICMP, UDP and TCP access (as AWS),
    or the protocol and ports given with it."""
    if params.get("CidrIp") is not None:
        raise errors.invalid_combination(
            "The parameter CidrIp cannot be used with the parameter SourceSecurityGroupName"
        )
    if not params.get("SourceSecurityGroupName"):
        raise errors.missing("SourceSecurityGroupName")
    owner = params.get("SourceSecurityGroupOwnerId")
    peer = Peer(
        group_name=str(params["SourceSecurityGroupName"]),
        user_id=str(owner) if owner else None,
    )
    if params.get("IpProtocol") is not None:
        proto = protocol(params["IpProtocol"])
        low, high = ports(proto, params.get("FromPort"), params.get("ToPort"))
        return [PermissionSpec(proto, low, high, (peer,))]
    return [
        PermissionSpec("tcp", 0, 65535, (peer,)),
        PermissionSpec("udp", 0, 65535, (peer,)),
        PermissionSpec("icmp", -1, -1, (peer,)),
    ]


def _flat_cidr(params: Mapping[str, Any]) -> list[PermissionSpec]:
    if params.get("CidrIp") is None:
        raise errors.missing("CidrIp")
    item = {
        "IpProtocol": params.get("IpProtocol"),
        "FromPort": params.get("FromPort"),
        "ToPort": params.get("ToPort"),
        "IpRanges": [{"CidrIp": params["CidrIp"]}],
    }
    return [_spec(item)]


def parse_permissions(params: Mapping[str, Any]) -> list[PermissionSpec]:
    """Every permission of an Authorize/Revoke request, validated: the IpPermissions form or
    the legacy flat one (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroup*)."""
    flat = [k for k in (*_FLAT, *_FLAT_GROUP) if params.get(k) is not None]
    listed = params.get("IpPermissions") or []
    if flat and listed:
        raise errors.invalid_combination(
            f"The parameter {flat[0]} cannot be used with the parameter IpPermissions"
        )
    if listed:
        return [_spec(item) for item in listed]
    if any(params.get(k) is not None for k in _FLAT_GROUP):
        return _flat_group(params)
    if flat:
        return _flat_cidr(params)
    raise errors.missing("ipPermissions")


def _proto_text(r: RuleLike) -> str:
    if r.protocol == "-1":
        return "ALL"
    if r.protocol == "icmp":
        return f"ICMP, type: {r.from_port}, code: {r.to_port}"
    if r.protocol in _PORTED:
        return f"{r.protocol.upper()}, from port: {r.from_port}, to port: {r.to_port}"
    return f"protocol {r.protocol}"


def duplicate(r: RuleLike) -> ServiceError:
    """InvalidPermission.Duplicate for the rule `r`, named the way EC2 does."""
    return errors.duplicate_permission(r.cidr or r.peer_group_id, _proto_text(r))


# group id -> (group name, owner account id): how a UserIdGroupPair names a peer group.
GroupNames = Mapping[str, tuple[str, str]]


def _pair(r: RuleLike, names: GroupNames) -> dict[str, Any]:
    gid = r.peer_group_id or ""
    name, owner = names.get(gid, ("", r.peer_account_id or ""))
    out: dict[str, Any] = {"GroupId": gid, "UserId": r.peer_account_id or owner}
    if name:
        out["GroupName"] = name
    if r.description:
        out["Description"] = r.description
    return out


def _sort_key(perm_key: tuple[str, int | None, int | None]) -> tuple[str, int, int]:
    proto, low, high = perm_key
    return (proto, -2 if low is None else low, -2 if high is None else high)


def ip_permissions(rules: Iterable[RuleLike], names: GroupNames) -> list[dict[str, Any]]:
    """Rules grouped as EC2 shows them: one IpPermission per protocol + port range, holding
    its CIDR peers (IpRanges) and group peers (UserIdGroupPairs)."""
    grouped: dict[tuple[str, int | None, int | None], list[RuleLike]] = {}
    for r in rules:
        grouped.setdefault((r.protocol, r.from_port, r.to_port), []).append(r)
    out = []
    for key in sorted(grouped, key=_sort_key):
        proto, low, high = key
        members = grouped[key]
        perm: dict[str, Any] = {"IpProtocol": proto}
        if low is not None:
            perm["FromPort"], perm["ToPort"] = low, high
        perm["IpRanges"] = [
            {"CidrIp": r.cidr, **({"Description": r.description} if r.description else {})}
            for r in sorted((m for m in members if m.cidr), key=lambda m: m.cidr or "")
        ]
        perm["UserIdGroupPairs"] = [
            _pair(r, names)
            for r in sorted(
                (m for m in members if m.peer_group_id), key=lambda m: m.peer_group_id or ""
            )
        ]
        perm["Ipv6Ranges"], perm["PrefixListIds"] = [], []
        out.append(perm)
    return out
