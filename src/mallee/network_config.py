"""The cloud's EDGE address plan: the `cloud.network.network_configuration` property.

Like Eucalyptus' network configuration JSON, with these keys (all optional)::

    {
      "Mode": "EDGE",
      "PublicSubnet": "203.0.113.0/24",       # the "outside" network the nodes sit on
      "PublicGateway": "203.0.113.1",         # its router (the public namespace here)
      "PublicIps": ["203.0.113.100-203.0.113.199", "203.0.113.250"],   # the pool
      "InstanceDnsDomain": "eucalyptus.internal",
      "PrivateNetwork": "10.111.0.0/16"       # holds every node's subnet: the default VPC
    }

Private addresses are per node: each node's subnet (`MALLEE_NODE_SUBNET`), routed flat
between nodes. PrivateNetwork is the block those subnets are carved from; each account's
default VPC presents it as its CIDR. Nodes take their own public address from
`MALLEE_NODE_PUBLIC_IP`, which must lie in PublicSubnet and outside the pool. The default
plan uses TEST-NET-3, which no real network routes.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

DEFAULT_PUBLIC_SUBNET = "203.0.113.0/24"
DEFAULT_POOL = ("203.0.113.100-203.0.113.199",)
DEFAULT_PRIVATE_NETWORK = "10.111.0.0/16"
_PRIVATE = ipaddress.IPv4Network(DEFAULT_PRIVATE_NETWORK)


class BadNetworkConfig(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class NetworkConfig:
    public_subnet: ipaddress.IPv4Network
    public_gateway: ipaddress.IPv4Address
    public_ips: tuple[ipaddress.IPv4Address, ...]
    dns_domain: str
    private_network: ipaddress.IPv4Network = _PRIVATE

    def pool(self) -> list[str]:
        return [str(a) for a in self.public_ips]


def parse(text: str | dict[str, Any] | None) -> NetworkConfig:
    raw: Any = json.loads(text) if isinstance(text, str) and text.strip() else (text or {})
    if not isinstance(raw, dict):
        raise BadNetworkConfig("network configuration must be a JSON object")
    mode = raw.get("Mode", "EDGE")
    if mode != "EDGE":
        raise BadNetworkConfig(f"Mode {mode!r} is not supported (EDGE is)")
    try:
        subnet = ipaddress.IPv4Network(str(raw.get("PublicSubnet", DEFAULT_PUBLIC_SUBNET)))
    except ValueError as err:
        raise BadNetworkConfig(f"PublicSubnet: {err}") from err
    gateway_text = raw.get("PublicGateway", str(subnet.network_address + 1))
    try:
        gateway = ipaddress.IPv4Address(str(gateway_text))
    except ValueError as err:
        raise BadNetworkConfig(f"PublicGateway: {err}") from err
    if gateway not in subnet:
        raise BadNetworkConfig(f"PublicGateway {gateway} is outside PublicSubnet {subnet}")
    entries = raw.get("PublicIps", list(DEFAULT_POOL))
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise BadNetworkConfig("PublicIps must be a list of addresses or first-last ranges")
    pool = _expand(entries, subnet, gateway)
    domain = str(raw.get("InstanceDnsDomain", "eucalyptus.internal"))
    try:
        private = ipaddress.IPv4Network(str(raw.get("PrivateNetwork", DEFAULT_PRIVATE_NETWORK)))
    except ValueError as err:
        raise BadNetworkConfig(f"PrivateNetwork: {err}") from err
    if private.overlaps(subnet):
        raise BadNetworkConfig(f"PrivateNetwork {private} overlaps PublicSubnet {subnet}")
    return NetworkConfig(subnet, gateway, tuple(pool), domain, private)


def _expand(
    entries: list[str], subnet: ipaddress.IPv4Network, gateway: ipaddress.IPv4Address
) -> list[ipaddress.IPv4Address]:
    out: dict[ipaddress.IPv4Address, None] = {}
    for entry in entries:
        first_text, _, last_text = entry.partition("-")
        try:
            first = ipaddress.IPv4Address(first_text.strip())
            last = ipaddress.IPv4Address(last_text.strip()) if last_text else first
        except ValueError as err:
            raise BadNetworkConfig(f"PublicIps entry {entry!r}: {err}") from err
        if last < first or int(last) - int(first) > 65535:
            raise BadNetworkConfig(f"PublicIps entry {entry!r} is not a range of at most 65536")
        for n in range(int(first), int(last) + 1):
            address = ipaddress.IPv4Address(n)
            if address not in subnet or address in (subnet.network_address, gateway):
                raise BadNetworkConfig(f"public IP {address} is not a host of {subnet}")
            out[address] = None
    return list(out)
