"""Names and addresses derived from ids, so every process computes the same ones."""

from __future__ import annotations

import hashlib
import re


def mac_for(instance_id: str) -> str:
    """Locally administered unicast MAC, Eucalyptus style (d0:0d:...), from the instance id."""
    digest = hashlib.sha256(instance_id.encode()).digest()
    return "d0:0d:" + ":".join(f"{b:02x}" for b in digest[:4])


def tap_for(instance_id: str) -> str:
    """Interface names are at most 15 characters."""
    return "tap" + instance_id.removeprefix("i-")[:12]


def netns_for(node_name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)
    return f"mallee-{safe}"[:60]
