"""A node's data plane (EDGE mode): namespace, bridge, taps, DHCP by MAC, metadata service.

The interface the node agent uses::

    @dataclass(frozen=True)
    class Nic:
        netns: str   # namespace QEMU must be started in ("" = the host's)
        tap: str     # -netdev tap,ifname=<tap>,script=no,downscript=no
        mac: str
        ip: str

    class DataPlane:
        def __init__(self, *, cloud_id: str, node_name: str, subnet: str, data_dir: Path,
                     db_url: str, netns: str | None = None, region: str = "eucalyptus") -> None
            # netns None: "mallee-<cloud id>-<node>" (netns_for), created by ensure();
            # "" = host namespace
        netns: str                  # property
        gateway: str                # property: first host address of the subnet, on the bridge
        def claim(self) -> None     # hold it (DataPlaneBusyError: another live process does)
        def release(self) -> None
        def ensure(self) -> None    # idempotent set-up and repair; adopts running servers
        def heal(self, running: Collection[str]) -> set[str]
            # checks the real state, repairs drift; returns the VMs whose tap is gone
        def plug(self, instance_id: str, mac: str, ip: str) -> Nic      # idempotent
        def unplug(self, instance_id: str) -> None                       # idempotent
        def plugged(self) -> set[str]   # instance ids with a tap or a DHCP entry here
        def teardown(self) -> None  # stop dnsmasq + metadata server, delete the namespace

    def tap_for(instance_id: str) -> str      # "tap" + 12 characters of the id
    def netns_for(cloud_id: str, node_name: str) -> str   # "mallee-<cloud id>-<node>"
    identity.cloud_id(store) -> str           # the cloud id: 8 hex digits, from the database

Every method that changes anything claims the data plane first: one process runs it (the node
agent), and a second one (another agent of the node, of any cloud) is refused, not let to
kill the first one's servers. Order of use: `claim()` and `ensure()` at agent start; `heal()`
every few seconds (cheap when nothing changed); `plug()` before launching QEMU with
`ip netns exec <nic.netns> qemu-system-x86_64 ... -netdev tap,ifname=<nic.tap>,script=no,
downscript=no -device virtio-net-pci,mac=<nic.mac>`; `unplug()` once QEMU has exited;
after a restart, `plugged()` minus the instances still wanted is what to unplug.

Modules, one concern each: names (ids -> names, validation), identity (the cloud id), links
(namespace, bridge, taps), dhcp (dnsmasq), iptables (owned chains, replaced atomically), nat
(metadata redirect), imds (what the metadata service answers, pure), metadata (its server
process), nsock (sockets inside a namespace), procs (pid files, strays), dataplane
(DataPlane); for EDGE: desired, rules, public, edge (the reconciler), drift (its checks).
"""

from mallee.node.network.dataplane import DataPlane, DataPlaneBusyError, Nic
from mallee.node.network.names import netns_for, tap_for

__all__ = ["DataPlane", "DataPlaneBusyError", "Nic", "netns_for", "tap_for"]
