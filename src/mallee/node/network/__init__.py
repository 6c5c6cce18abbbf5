"""A node's data plane (EDGE): namespace, bridge, taps, DHCP by MAC, metadata redirect.

The node agent calls `DataPlane.ensure()` at start, `plug()` before launching a VM (QEMU is
started inside `Nic.netns` and opens `Nic.tap`), and `unplug()` after the VM is gone.
"""

from mallee.node.network.dataplane import DataPlane, Nic
from mallee.node.network.names import mac_for, netns_for, tap_for

__all__ = ["DataPlane", "Nic", "mac_for", "netns_for", "tap_for"]
