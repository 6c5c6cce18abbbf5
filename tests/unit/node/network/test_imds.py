"""What the metadata service answers, path by path and header by header (no sockets)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from mallee.node.network.imds import Reply, Seen, Tokens, answer, respond, token_ttl

SEEN = Seen(
    instance_id="i-0123456789abcdef0",
    account_id="000000000001",
    image_id="emi-12345678",
    launch_index=2,
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
    groups=("default", "web"),
    region="eucalyptus",
    local_hostname="euca-10-111-1-5.eucalyptus.internal",
)
BARE = replace(
    SEEN, kernel_id=None, ramdisk_id=None, key_name=None, public_key=None, user_data=None, groups=()
)
MD = "/latest/meta-data"


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (f"{MD}/instance-id", 200, "i-0123456789abcdef0"),
        (f"{MD}/ami-id", 200, "emi-12345678"),
        (f"{MD}/ami-launch-index", 200, "2"),
        (f"{MD}/instance-type", 200, "m1.small"),
        (f"{MD}/local-ipv4", 200, "10.111.1.5"),
        (f"{MD}/mac", 200, "d0:0d:01:02:03:04"),
        (f"{MD}/hostname", 200, "euca-10-111-1-5.eucalyptus.internal"),
        (f"{MD}/local-hostname", 200, "euca-10-111-1-5.eucalyptus.internal"),
        (f"{MD}/placement/", 200, "availability-zone\nregion"),
        (f"{MD}/placement/availability-zone", 200, "one"),
        (f"{MD}/reservation-id", 200, "r-0123456789abcdef0"),
        (f"{MD}/kernel-id", 200, "eki-12345678"),
        (f"{MD}/ramdisk-id", 200, "eri-12345678"),
        (f"{MD}/public-keys/", 200, "0=mykey"),
        (f"{MD}/public-keys", 200, "0=mykey"),
        (f"{MD}/public-keys/0/", 200, "openssh-key"),
        (f"{MD}/public-keys/0/openssh-key", 200, "ssh-ed25519 AAAA test\n"),
        (f"{MD}/security-groups", 200, "default\nweb"),
        (f"{MD}/block-device-mapping/", 200, "ami\nroot"),
        (f"{MD}/block-device-mapping/root", 200, "/dev/sda1"),
        (f"{MD}/network/interfaces/macs/", 200, "d0:0d:01:02:03:04/"),
        (f"{MD}/network/interfaces/macs/d0:0d:01:02:03:04/local-ipv4s", 200, "10.111.1.5"),
        ("/2009-04-04/meta-data/instance-id", 200, "i-0123456789abcdef0"),
        (f"{MD}//instance-id", 200, "i-0123456789abcdef0"),
        (f"{MD}/instance-id?x=1", 200, "i-0123456789abcdef0"),
        ("/latest/user-data", 200, "#!/bin/sh\necho hi\n"),
        ("/latest/", 200, "dynamic\nmeta-data\nuser-data"),
        (f"{MD}/public-ipv4", 404, "Not Found"),
        (f"{MD}/public-keys/1/openssh-key", 404, "Not Found"),
        (f"{MD}/instance-id/more", 404, "Not Found"),
        (f"{MD}/../../etc/passwd", 404, "Not Found"),
        ("/1999-01-01/meta-data/instance-id", 404, "Not Found"),
        ("/latest/other", 404, "Not Found"),
    ],
)
def test_answers(path: str, status: int, body: str) -> None:
    assert answer(path, SEEN) == (status, body.encode())


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/latest/user-data", 404, "Not Found"),
        (f"{MD}/public-keys/", 404, "Not Found"),
        (f"{MD}/public-keys/0/openssh-key", 404, "Not Found"),
        (f"{MD}/kernel-id", 404, "Not Found"),
        (f"{MD}/security-groups", 404, "Not Found"),
        ("/latest", 200, "dynamic\nmeta-data"),
    ],
)
def test_absent_values_are_not_found(path: str, status: int, body: str) -> None:
    assert answer(path, BARE) == (status, body.encode())


def test_listing_marks_directories_and_omits_absent_keys() -> None:
    status, body = answer(f"{MD}/", SEEN)
    lines = body.decode().splitlines()
    assert status == 200 and lines == sorted(lines) and not body.endswith(b"\n")
    assert {"instance-id", "ami-id", "local-ipv4", "placement/", "public-keys/"} <= set(lines)
    assert "public-ipv4" not in lines
    bare = answer(f"{MD}", BARE)[1].decode().splitlines()
    assert "public-keys/" not in bare and "kernel-id" not in bare


def test_public_address_appears_when_there_is_one() -> None:
    seen = replace(
        SEEN, public_ip="203.0.113.7", public_hostname="euca-203-0-113-7.eucalyptus.cloud.internal"
    )
    assert answer(f"{MD}/public-ipv4", seen) == (200, b"203.0.113.7")
    assert answer(f"{MD}/public-hostname", seen) == (
        200,
        b"euca-203-0-113-7.eucalyptus.cloud.internal",
    )
    assert "public-ipv4" in answer(MD, seen)[1].decode().splitlines()


def test_user_data_is_served_as_the_bytes_given() -> None:
    raw = bytes(range(256))
    seen = replace(SEEN, user_data=base64.b64encode(raw).decode())
    assert answer("/latest/user-data", seen) == (200, raw)
    assert answer("/latest/user-data", replace(SEEN, user_data="!!"))[0] == 404


def test_identity_document() -> None:
    status, body = answer("/latest/dynamic/instance-identity/document", SEEN)
    doc = json.loads(body)
    assert status == 200
    assert doc["instanceId"] == SEEN.instance_id and doc["privateIp"] == SEEN.private_ip


@pytest.mark.parametrize(
    ("raw", "ttl"),
    [("1", 1), ("21600", 21600), ("300", 300), ("0", None), ("21601", None), ("", None),
     ("-5", None), ("1e3", None), (None, None)],
)  # fmt: skip
def test_token_ttl_bounds(raw: str | None, ttl: int | None) -> None:
    assert token_ttl(raw) == ttl


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TTL = "X-aws-ec2-metadata-token-ttl-seconds"


def put_token(tokens: Tokens, headers: dict[str, str], seen: Seen | None = SEEN) -> Reply:
    return respond("PUT", "/latest/api/token", headers, seen, tokens)


def get_id(tokens: Tokens, headers: dict[str, str], seen: Seen = SEEN) -> int:
    return respond("GET", f"{MD}/instance-id", headers, seen, tokens)[0]


def test_imdsv2_session() -> None:
    clock = Clock()
    tokens = Tokens(clock)
    status, token, headers = put_token(tokens, {TTL: "60"})
    assert status == 200 and headers[TTL] == "60"
    hdr = {"x-aws-ec2-metadata-token": token.decode()}
    assert respond("GET", f"{MD}/instance-id", hdr, SEEN, tokens)[1] == SEEN.instance_id.encode()
    assert get_id(tokens, hdr) == 200
    assert get_id(tokens, {}) == 200  # IMDSv1 stays allowed
    assert get_id(tokens, hdr, replace(SEEN, instance_id="i-0000000000000000f")) == 401
    assert get_id(tokens, {"X-aws-ec2-metadata-token": "x"}) == 401
    clock.now += 61
    assert get_id(tokens, hdr) == 401


def test_token_requests_refused() -> None:
    tokens = Tokens()
    assert put_token(tokens, {})[0] == 400
    assert put_token(tokens, {TTL: "0"})[0] == 400
    assert put_token(tokens, {TTL: "60", "X-Forwarded-For": "10.0.0.1"})[0] == 403
    assert put_token(tokens, {TTL: "60"}, None)[0] == 404
    assert respond("GET", "/latest/api/token", {}, SEEN, tokens)[0] == 405
    assert respond("PUT", f"{MD}/instance-id", {}, SEEN, tokens)[0] == 405


def test_unknown_caller_gets_nothing() -> None:
    assert respond("GET", f"{MD}/instance-id", {}, None, Tokens()) == (404, b"Not Found", {})


def test_user_data_content_type() -> None:
    _, _, headers = respond("GET", "/latest/user-data", {}, SEEN, Tokens())
    assert headers["Content-Type"] == "application/octet-stream"
