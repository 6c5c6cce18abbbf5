"""The node's nat table: the metadata redirect (elastic IPs will get their own chains here)."""

from __future__ import annotations

from mallee.node.network import iptables

METADATA_ADDRESS = "169.254.169.254"
META_CHAIN = "MALLEE_META"


def metadata_rules(bridge: str, gateway: str, port: int) -> list[list[str]]:
    """Guests' requests to 169.254.169.254:80 go to the metadata server, source kept."""
    return [
        [
            "-d", f"{METADATA_ADDRESS}/32", "-i", bridge, "-p", "tcp", "-m", "tcp",
            "--dport", "80", "-j", "DNAT", "--to-destination", f"{gateway}:{port}",
        ]
    ]  # fmt: skip


def ensure_metadata_redirect(netns: str, bridge: str, gateway: str, port: int) -> bool:
    """The redirect in place; True if anything had to change."""
    changed = iptables.set_chain(netns, "nat", META_CHAIN, metadata_rules(bridge, gateway, port))
    return iptables.ensure_jump(netns, "nat", "PREROUTING", META_CHAIN, []) or changed


def remove_metadata_redirect(netns: str) -> None:
    iptables.drop_chain(netns, "nat", "PREROUTING", META_CHAIN, [])
