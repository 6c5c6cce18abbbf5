"""Apache Libcloud, unchanged: its EC2 and Eucalyptus compute drivers and its S3 (Ceph RGW)
storage driver, against a live cloud. Libcloud parses answers with XML namespaces, signs EC2
with SigV2 at the root (or at /services/Eucalyptus) and S3 with SigV2 or SigV4."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from libcloud.compute.drivers.ec2 import EC2NodeDriver, EucNodeDriver
from libcloud.compute.types import NodeState
from libcloud.storage.drivers.rgw import S3RGWStorageDriver

from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e


def _host_port(cloud: Cloud) -> tuple[str, int]:
    url = urlsplit(cloud.endpoint)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


class _MalleeEC2(EC2NodeDriver):  # type: ignore[misc]
    """EC2NodeDriver names its regions; a private cloud is reached by host and port alone."""

    def __init__(self, key: str, secret: str, host: str, port: int) -> None:
        super().__init__(key, secret, secure=False, host=host, port=port, region="us-east-1")


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    host, port = _host_port(module_cloud)
    return _MalleeEC2(module_cloud.admin.access_key, module_cloud.admin.secret_key, host, port)


@pytest.fixture(scope="module")
def euca(module_cloud: Cloud) -> Any:
    host, port = _host_port(module_cloud)
    return EucNodeDriver(
        module_cloud.admin.access_key,
        module_cloud.admin.secret_key,
        secure=False,
        host=host,
        port=port,
    )


def _default_image(driver: Any) -> Any:
    images = driver.list_images(ex_filters={"name": "mallee-default"})
    assert images, "the default image is listed"
    return images[0]


def test_compute_flow(ec2: Any) -> None:
    """Images, key pair, group, create_node with key, user-data and group, running, tags,
    elastic IP, console output, reboot, destroy."""
    name = f"lc-{uuid.uuid4().hex[:6]}"
    image = _default_image(ec2)
    key = ec2.create_key_pair(name)
    assert key.private_key and "PRIVATE KEY" in key.private_key
    assert name in [k.name for k in ec2.list_key_pairs()]
    ec2.ex_create_security_group(name, "libcloud flow")
    ec2.ex_authorize_security_group(name, 22, 22, "0.0.0.0/0")
    assert name in ec2.ex_list_security_groups()
    size = next(s for s in ec2.list_sizes() if s.id == "m1.small")
    node = ec2.create_node(
        name=name,
        image=image,
        size=size,
        ex_keyname=name,
        ex_userdata="#!/bin/sh\necho hello\n",
        ex_security_groups=[name],
    )
    try:
        [(running, ips)] = ec2.wait_until_running([node], wait_period=1, timeout=120)
        assert running.state == NodeState.RUNNING
        assert ips and running.private_ips
        assert ec2.ex_describe_tags(running)["Name"] == name
        ec2.ex_create_tags(running, {"role": "web"})
        assert ec2.ex_describe_tags(running)["role"] == "web"
        address = ec2.ex_allocate_address()
        ec2.ex_associate_address_with_node(running, address)
        assert address.ip in [a.ip for a in ec2.ex_describe_all_addresses()]
        ec2.ex_disassociate_address(address)
        ec2.ex_release_address(address)
        # The fake hypervisor writes no console: the answer is empty, but well-formed.
        assert ec2.ex_get_console_output(running)["instance_id"] == running.id
        assert ec2.reboot_node(running)
    finally:
        assert ec2.destroy_node(node)
        ec2.delete_key_pair(key)
    _wait_gone(ec2, node.id)
    assert ec2.ex_delete_security_group(name)


def _wait_gone(driver: Any, node_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [n.state for n in driver.list_nodes(ex_node_ids=[node_id])]
        if all(s == NodeState.TERMINATED for s in states):
            return
        time.sleep(0.5)
    raise AssertionError(f"{node_id} was not terminated")


def test_eucalyptus_driver_lists_sizes_images_and_nodes(euca: Any) -> None:
    """The Eucalyptus driver reads Eucalyptus' own DescribeInstanceTypes answer."""
    sizes = {s.id: s for s in euca.list_sizes()}
    assert "m1.small" in sizes
    assert sizes["m1.small"].ram > 0 and sizes["m1.small"].extra["cpu"] >= 1
    assert _default_image(euca).id.startswith("emi-")
    assert isinstance(euca.list_nodes(), list)


@pytest.fixture(scope="module", params=["2", "4"])
def storage(request: pytest.FixtureRequest, module_cloud: Cloud) -> Iterator[Any]:
    host, port = _host_port(module_cloud)
    yield S3RGWStorageDriver(
        module_cloud.admin.access_key,
        module_cloud.admin.secret_key,
        secure=False,
        host=host,
        port=port,
        region=REGION,
        signature_version=request.param,
    )


def test_storage_flow(storage: Any, tmp_path: Path) -> None:
    """Container, uploads (streamed in parts over SigV4), listing, download, delete.

    Over SigV2 Libcloud uploads whole files: its SigV2 signer leaves the sub-resources
    (`?uploads`, `?partNumber=&uploadId=`) out of what it signs, which AWS and Ceph refuse as
    mallee does (a signature that does not cover them could be replayed as another operation),
    so its streamed uploads work over SigV4 only (Libcloud moved them there, LIBCLOUD-834).
    """
    container = storage.create_container(f"lc-{uuid.uuid4().hex[:8]}")
    big = b"x" * (6 * 1024 * 1024) + b"end"
    if storage.signature_version == "4":
        small = storage.upload_object_via_stream(
            io.BytesIO(b"hello"), container, "dir/small.txt", extra={"content_type": "text/plain"}
        )
        large = storage.upload_object_via_stream(io.BytesIO(big), container, "big.bin")
    else:
        (tmp_path / "small.txt").write_bytes(b"hello")
        (tmp_path / "big.bin").write_bytes(big)
        small = storage.upload_object(str(tmp_path / "small.txt"), container, "dir/small.txt")
        large = storage.upload_object(str(tmp_path / "big.bin"), container, "big.bin")
    assert (small.size, large.size) == (5, len(big))
    names = sorted(o.name for o in storage.list_container_objects(container))
    assert names == ["big.bin", "dir/small.txt"]
    got = b"".join(storage.download_object_as_stream(storage.get_object(container.name, "big.bin")))
    assert got == big
    for obj in storage.list_container_objects(container):
        assert storage.delete_object(obj)
    assert storage.delete_container(container)
