"""IPv4 block arithmetic for VPCs and subnets: sizes AWS allows, overlap, the smallest block
covering others (a default subnet over its zone's node subnets) and free addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable

Net = ipaddress.IPv4Network
# VPC and subnet blocks: /16 (65,536 addresses) to /28 (16), as AWS.
WIDEST, NARROWEST = 16, 28
# AWS keeps a subnet's network address, the next three (router, DNS, future) and broadcast.
RESERVED = 5


def parse(text: str) -> Net | None:
    """The block `text` names, in canonical form; None when it is not an IPv4 CIDR (host bits
    set is not a block either: AWS refuses 10.0.0.1/16)."""
    if "/" not in text:
        return None
    try:
        return ipaddress.IPv4Network(text.strip(), strict=True)
    except ValueError:
        return None


def sized(block: Net) -> bool:
    return WIDEST <= block.prefixlen <= NARROWEST


def overlaps(block: Net, others: Iterable[Net]) -> bool:
    return any(block.overlaps(o) for o in others)


def covering(blocks: Iterable[Net]) -> Net | None:
    """The smallest single block holding every one of `blocks` (None when there are none)."""
    found = list(blocks)
    if not found:
        return None
    low = min(int(b.network_address) for b in found)
    high = max(int(b.broadcast_address) for b in found)
    prefix = 32 - (low ^ high).bit_length()
    return ipaddress.IPv4Network((low, prefix), strict=False)


def available(block: Net, used: int) -> int:
    """AvailableIpAddressCount: the block less AWS's reserved five and what is in use."""
    return max(block.num_addresses - RESERVED - used, 0)


def available_in(cidr: str, used: int) -> int:
    """`available` of a canonical CIDR text, without parsing it (DescribeSubnets shows
    thousands)."""
    _, slash, prefix = cidr.rpartition("/")
    if not slash or not prefix.isdigit() or int(prefix) > 32:
        return 0
    return max((1 << (32 - int(prefix))) - RESERVED - used, 0)


def first_free(block: Net, taken: Collection[str]) -> str | None:
    """The lowest address of `block` a resource may take (after the reserved four at the
    start, before the broadcast address) that is not in `taken`."""
    start = int(block.network_address) + RESERVED - 1
    for n in range(start, int(block.broadcast_address)):
        address = str(ipaddress.IPv4Address(n))
        if address not in taken:
            return address
    return None
