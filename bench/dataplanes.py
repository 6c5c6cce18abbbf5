"""The data plane of a `mallee up` a benchmark started with real VMs: its namespaces' names
(they hold the cloud's id, from its database, and the node's name), and its removal at the
end (a node leaves its data plane and VMs running for the next agent; a benchmark does not)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mallee.node.lb.teardown import remove_cloud_workers
from mallee.node.network import DataPlane
from mallee.node.network.identity import cloud_id
from mallee.node.network.links import delete_netns
from mallee.node.network.names import netns_for, public_netns_for
from mallee.store import Store


def cloud_of(data_dir: Path) -> str:
    store = Store(f"sqlite:///{data_dir / 'mallee.db'}")
    try:
        return cloud_id(store)
    finally:
        store.dispose()


def node_netns(data_dir: Path, node: str) -> str:
    return netns_for(cloud_of(data_dir), node)


def public_netns(data_dir: Path) -> str:
    return public_netns_for(cloud_of(data_dir))


def remove(data_dir: Path, node: str, subnet: str = "10.111.1.0/24") -> None:
    """The VMs (QEMU whose command line names the data dir), namespaces and servers."""
    subprocess.run(["pkill", "-f", f"qemu-system-x86_64.*{data_dir}"], check=False)
    cloud = cloud_of(data_dir)
    DataPlane(
        cloud_id=cloud, node_name=node, subnet=subnet, data_dir=data_dir, db_url=""
    ).teardown()
    remove_cloud_workers(cloud)
    delete_netns(public_netns_for(cloud))
