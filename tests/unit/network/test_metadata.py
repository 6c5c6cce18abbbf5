"""What the metadata service answers an instance, path by path."""

from __future__ import annotations

import base64

import pytest

from mallee.node.network.metadata import Seen, answer
from mallee.node.network.names import mac_for, tap_for

SEEN = Seen(
    instance_id="i-0123456789abcdef0",
    image_id="emi-12345678",
    launch_index=0,
    instance_type="m1.small",
    kernel_id="eki-12345678",
    ramdisk_id="eri-12345678",
    reservation_id="r-0123456789abcdef0",
    zone="one",
    mac="d0:0d:01:02:03:04",
    private_ip="10.111.1.5",
    public_ip=None,
    key_name="mykey",
    public_key="ssh-ed25519 AAAA test",
    user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
    groups=("default",),
    region="eucalyptus",
)


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/latest/meta-data/instance-id", 200, "i-0123456789abcdef0"),
        ("/latest/meta-data/local-ipv4", 200, "10.111.1.5"),
        ("/latest/meta-data/placement/availability-zone", 200, "one"),
        ("/latest/meta-data/public-keys/", 200, "0=mykey"),
        ("/latest/meta-data/public-keys/0/openssh-key", 200, "ssh-ed25519 AAAA test\n"),
        ("/latest/meta-data/local-hostname", 200, "ip-10-111-1-5.eucalyptus.compute.internal"),
        ("/latest/user-data", 200, "#!/bin/sh\necho hi\n"),
        ("/latest/meta-data/public-ipv4", 404, "Not Found"),
        ("/latest/meta-data/../../etc/passwd", 404, "Not Found"),
    ],
)
def test_answers(path: str, status: int, body: str) -> None:
    assert answer(path, SEEN) == (status, body)


def test_listing_has_directories() -> None:
    status, body = answer("/latest/meta-data/", SEEN)
    lines = body.splitlines()
    assert status == 200
    assert {"instance-id", "ami-id", "placement/", "public-keys/"} <= set(lines)
    assert "public-ipv4" not in lines


def test_names_are_stable_and_short() -> None:
    assert mac_for("i-0123456789abcdef0") == mac_for("i-0123456789abcdef0")
    assert mac_for("i-0123456789abcdef0").startswith("d0:0d:")
    assert len(tap_for("i-0123456789abcdef0")) <= 15
