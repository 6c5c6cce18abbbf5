"""The MAC address an instance is placed with: the controller writes it into the instance row
at placement, and the node agent plugs the instance's tap and DHCP entry with that row's value.
"""

from __future__ import annotations

import hashlib


def mac_for(instance_id: str) -> str:
    """The instance's MAC: Eucalyptus' d0:0d: prefix and 4 bytes of a hash of its id.

    0xd0 has the locally-administered bit clear, as in Eucalyptus (its VNET_MACPREFIX default);
    what matters here is that it is unicast and never collides with a bridge or tap address
    (those are random or set by node/network/names.py's `bridge_mac`).
    """
    digest = hashlib.sha256(instance_id.encode()).digest()
    return "d0:0d:" + ":".join(f"{b:02x}" for b in digest[:4])
