"""Data plane names are the cloud's own: two clouds on one host never share a namespace."""

from __future__ import annotations

import pytest

from mallee.node.network.names import (
    IFNAME_MAX,
    NETNS_MAX,
    check_cloud_id,
    cloud_id_of,
    host_bridge_for,
    legacy_netns_for,
    netns_for,
    public_netns_for,
)


def test_cloud_id_is_short_hex_and_distinct() -> None:
    ids = {cloud_id_of(str(n)) for n in range(1000)}
    assert len(ids) == 1000
    assert all(check_cloud_id(i) == i and len(i) == 8 for i in ids)
    assert cloud_id_of("123456789012") == cloud_id_of("123456789012")


def test_two_clouds_on_one_host_get_their_own_names() -> None:
    a, b = cloud_id_of("111111111111"), cloud_id_of("222222222222")
    node = "node-myhost"  # the default name: the same for every cloud on the host
    assert netns_for(a, node) != netns_for(b, node)
    assert public_netns_for(a) != public_netns_for(b)
    assert host_bridge_for(a) != host_bridge_for(b)
    # No node, whatever its name, gets the public namespace's name (nor an older mallee's).
    assert netns_for(a, "pub") != public_netns_for(a)
    assert netns_for(a, node) != legacy_netns_for(node) == "mallee-node-myhost"


def test_names_fit_where_they_go() -> None:
    cloud = cloud_id_of("x")
    assert len(host_bridge_for(cloud)) <= IFNAME_MAX
    long_a, long_b = "n" * 200 + "a", "n" * 200 + "b"
    assert len(netns_for(cloud, long_a)) <= NETNS_MAX
    assert netns_for(cloud, long_a) != netns_for(cloud, long_b)
    assert netns_for(cloud, "a/b c;d") == f"mallee-{cloud}-a-b-c-d"


@pytest.mark.parametrize("bad", ["", "0123abc", "0123ABCD", "0123abcd-", "../../x", "0123abcde"])
def test_bad_cloud_ids_refused(bad: str) -> None:
    for make in (check_cloud_id, public_netns_for, host_bridge_for):
        with pytest.raises(ValueError):
            make(bad)
    with pytest.raises(ValueError):
        netns_for(bad, "node")
