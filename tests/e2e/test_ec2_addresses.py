"""Public and elastic IPs (EDGE) through boto3 and the AWS CLI, against a live cloud whose node
runs the fake hypervisor: auto-assigned public IPs, AllocateAddress & co., their errors."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_ec2_instances import code, default_image, wait_state
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

PLAN = "cloud.network.network_configuration"
# Outside the default pool (.100-.199) but inside the default public subnet.
TINY_POOL = ["203.0.113.240", "203.0.113.241"]
UNKNOWN_IP = "192.0.2.77"
UNKNOWN_ALLOC = "eipalloc-0123456789abcdef0"
UNKNOWN_ASSOC = "eipassoc-0123456789abcdef0"
UNKNOWN_INSTANCE = "i-0123456789abcdef0"
# Property values are cached for a second in every process.
PROPERTY_DELAY = 1.5


@pytest.fixture
def user(cloud: Cloud, tmp_path: Path) -> Any:
    """EC2 as the root of a fresh account (the address limit is per account)."""
    _, ak, sk = new_account(cloud, tmp_path)
    return cloud.client("ec2", access_key=ak, secret_key=sk)


@pytest.fixture
def other(cloud: Cloud, tmp_path: Path) -> Any:
    _, ak, sk = new_account(cloud, tmp_path / "other")
    return cloud.client("ec2", access_key=ak, secret_key=sk)


@pytest.fixture
def empyrean(cloud: Cloud) -> Any:
    return mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def tiny_pool(empyrean: Any) -> Iterator[list[str]]:
    plan = {"PublicIps": [f"{TINY_POOL[0]}-{TINY_POOL[-1]}"]}
    empyrean.modify_property_value(Name=PLAN, Value=json.dumps(plan))
    time.sleep(PROPERTY_DELAY)
    try:
        yield TINY_POOL
    finally:
        empyrean.modify_property_value(Name=PLAN, Reset=True)
        time.sleep(PROPERTY_DELAY)


def launch(ec2: Any, count: int = 1) -> list[str]:
    res = ec2.run_instances(ImageId=default_image(ec2), MinCount=count, MaxCount=count)
    ids = [i["InstanceId"] for i in res["Instances"]]
    wait_state(ec2, ids, "running")
    return ids


def instance(ec2: Any, iid: str) -> dict[str, Any]:
    (reservation,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    found: dict[str, Any] = reservation["Instances"][0]
    return found


def public_ip(ec2: Any, iid: str) -> str | None:
    return instance(ec2, iid).get("PublicIpAddress")


def until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def error(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return code(err)


def test_instances_get_public_ips_that_go_back_at_termination(user: Any) -> None:
    ids = launch(user, 2)
    shown = [instance(user, i) for i in ids]
    ips = [i["PublicIpAddress"] for i in shown]
    assert len(set(ips)) == 2 and all(ip.startswith("203.0.113.") for ip in ips)
    for item in shown:
        dashed = item["PublicIpAddress"].replace(".", "-")
        assert item["PublicDnsName"] == f"euca-{dashed}.eucalyptus.cloud.internal"
        assert item["PrivateIpAddress"]
    by_ip = user.describe_instances(Filters=[{"Name": "ip-address", "Values": [ips[0]]}])
    assert [i["InstanceId"] for r in by_ip["Reservations"] for i in r["Instances"]] == ids[:1]
    # Auto-assigned addresses are the instance's, not the account's elastic IPs.
    assert user.describe_addresses()["Addresses"] == []
    assert error(user.describe_addresses, PublicIps=[ips[0]]) == ("InvalidAddress.NotFound", 400)
    assert error(user.release_address, PublicIp=ips[0]) == ("InvalidAddress.NotFound", 400)
    user.terminate_instances(InstanceIds=ids)
    wait_state(user, ids, "terminated")
    until(lambda: all(public_ip(user, i) is None for i in ids))


def test_allocate_associate_move_disassociate_release(user: Any) -> None:
    first, second = launch(user, 2)
    autos = {first: public_ip(user, first), second: public_ip(user, second)}
    assert all(autos.values())
    out = user.allocate_address(Domain="vpc")
    eip, alloc = out["PublicIp"], out["AllocationId"]
    assert alloc.startswith("eipalloc-") and out["Domain"] == "vpc"
    (listed,) = user.describe_addresses()["Addresses"]
    assert listed["PublicIp"] == eip and listed["AllocationId"] == alloc
    assert "InstanceId" not in listed and "AssociationId" not in listed

    assoc = user.associate_address(AllocationId=alloc, InstanceId=first)["AssociationId"]
    assert assoc.startswith("eipassoc-")
    assert public_ip(user, first) == eip
    (listed,) = user.describe_addresses(AllocationIds=[alloc])["Addresses"]
    assert listed["InstanceId"] == first and listed["AssociationId"] == assoc
    assert listed["PrivateIpAddress"] == instance(user, first)["PrivateIpAddress"]
    # Associating it again with the same instance changes nothing.
    again = user.associate_address(AllocationId=alloc, InstanceId=first)["AssociationId"]
    assert again == assoc

    # VPC-style: moving an associated address needs AllowReassociation.
    refused = error(user.associate_address, AllocationId=alloc, InstanceId=second)
    assert refused == ("Resource.AlreadyAssociated", 400)
    user.associate_address(AllocationId=alloc, InstanceId=second, AllowReassociation=True)
    assert public_ip(user, second) == eip
    # The instance it left gets an auto-assigned address again.
    moved_from = public_ip(user, first)
    assert moved_from and moved_from != eip

    # EC2-Classic style, by PublicIp: the address simply moves.
    user.associate_address(PublicIp=eip, InstanceId=first)
    assert public_ip(user, first) == eip
    assert public_ip(user, second) not in (None, eip)

    (listed,) = user.describe_addresses(PublicIps=[eip])["Addresses"]
    user.disassociate_address(AssociationId=listed["AssociationId"])
    assert public_ip(user, first) not in (None, eip)
    (listed,) = user.describe_addresses(PublicIps=[eip])["Addresses"]
    assert "InstanceId" not in listed

    user.associate_address(PublicIp=eip, InstanceId=first)
    assert error(user.release_address, AllocationId=alloc) == ("InvalidIPAddress.InUse", 400)
    user.disassociate_address(PublicIp=eip)
    user.associate_address(PublicIp=eip, InstanceId=first)
    # EC2-Classic: releasing an associated address disassociates it first.
    user.release_address(PublicIp=eip)
    assert user.describe_addresses()["Addresses"] == []
    assert public_ip(user, first) not in (None, eip)
    user.terminate_instances(InstanceIds=[first, second])


def test_termination_keeps_the_elastic_ip_allocated(user: Any) -> None:
    (iid,) = launch(user)
    out = user.allocate_address()
    user.associate_address(PublicIp=out["PublicIp"], InstanceId=iid)
    user.terminate_instances(InstanceIds=[iid])
    wait_state(user, [iid], "terminated")

    def unassociated() -> bool:
        (listed,) = user.describe_addresses(PublicIps=[out["PublicIp"]])["Addresses"]
        return "InstanceId" not in listed

    until(unassociated)
    assert public_ip(user, iid) is None
    assert error(user.associate_address, PublicIp=out["PublicIp"], InstanceId=iid) == (
        "IncorrectInstanceState",
        400,
    )
    user.release_address(AllocationId=out["AllocationId"])


@pytest.fixture(scope="module")
def running(cloud: Cloud) -> Iterator[str]:
    ec2 = cloud.client("ec2")
    (iid,) = launch(ec2)
    yield iid
    ec2.terminate_instances(InstanceIds=[iid])


# RUNNING stands for a running instance of the caller's.
RUNNING = "i-running"


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("associate_address", {"PublicIp": UNKNOWN_IP}, "InvalidAddress.NotFound"),
        ("associate_address", {"AllocationId": UNKNOWN_ALLOC}, "InvalidAllocationID.NotFound"),
        ("associate_address", {"AllocationId": "eipalloc-x"}, "InvalidAllocationID.Malformed"),
        ("associate_address", {"InstanceId": UNKNOWN_INSTANCE}, "InvalidInstanceID.NotFound"),
        ("associate_address", {"InstanceId": "i-bogus"}, "InvalidInstanceID.Malformed"),
        ("associate_address", {"InstanceId": ""}, "MissingParameter"),
        ("associate_address", {"PublicIp": ""}, "MissingParameter"),
        ("disassociate_address", {"AssociationId": UNKNOWN_ASSOC}, "InvalidAssociationID.NotFound"),
        ("disassociate_address", {"PublicIp": UNKNOWN_IP}, "InvalidAddress.NotFound"),
        ("disassociate_address", {}, "MissingParameter"),
        ("release_address", {"AllocationId": UNKNOWN_ALLOC}, "InvalidAllocationID.NotFound"),
        ("release_address", {"AllocationId": "eipalloc-x"}, "InvalidAllocationID.Malformed"),
        ("release_address", {"PublicIp": UNKNOWN_IP}, "InvalidAddress.NotFound"),
        ("release_address", {}, "MissingParameter"),
        ("describe_addresses", {"PublicIps": [UNKNOWN_IP]}, "InvalidAddress.NotFound"),
        ("describe_addresses", {"AllocationIds": [UNKNOWN_ALLOC]}, "InvalidAllocationID.NotFound"),
        (
            "describe_addresses",
            {"Filters": [{"Name": "x", "Values": ["1"]}]},
            "InvalidParameterValue",
        ),
        ("allocate_address", {"Domain": "elsewhere"}, "InvalidParameterValue"),
    ],
)
def test_errors(
    cloud: Cloud, running: str, operation: str, params: dict[str, Any], expected: str
) -> None:
    if operation == "associate_address":
        named = {"PublicIp": UNKNOWN_IP} if "AllocationId" not in params else {}
        params = {**named, "InstanceId": RUNNING, **params}
    params = {k: running if v == RUNNING else v for k, v in params.items()}
    assert error(getattr(cloud.client("ec2"), operation), **params) == (expected, 400)


def test_account_address_limit(user: Any) -> None:
    got = [user.allocate_address()["AllocationId"] for _ in range(5)]
    assert error(user.allocate_address) == ("AddressLimitExceeded", 400)
    for alloc in got:
        user.release_address(AllocationId=alloc)
    user.release_address(AllocationId=user.allocate_address()["AllocationId"])


def test_concurrent_allocations_get_distinct_addresses_within_the_limit(user: Any) -> None:
    def allocate(_: int) -> str:
        try:
            return str(user.allocate_address()["PublicIp"])
        except ClientError as err:
            return str(err.response["Error"]["Code"])

    with ThreadPoolExecutor(max_workers=7) as pool:
        results = list(pool.map(allocate, range(7)))
    ips = [r for r in results if r != "AddressLimitExceeded"]
    assert len(ips) == 5 and len(set(ips)) == 5, results
    assert len(user.describe_addresses()["Addresses"]) == 5
    for ip in ips:
        user.release_address(PublicIp=ip)


def test_another_account_cannot_touch_your_address(user: Any, other: Any) -> None:
    (mine,) = launch(user)
    (theirs,) = launch(other)
    out = user.allocate_address()
    eip, alloc = out["PublicIp"], out["AllocationId"]
    assoc = user.associate_address(PublicIp=eip, InstanceId=mine)["AssociationId"]
    not_yours = ("AuthFailure", 400)
    assert error(other.associate_address, PublicIp=eip, InstanceId=theirs) == not_yours
    assert error(other.disassociate_address, PublicIp=eip) == not_yours
    assert error(other.release_address, PublicIp=eip) == not_yours
    assert error(other.release_address, AllocationId=alloc) == (
        "InvalidAllocationID.NotFound",
        400,
    )
    assert error(other.associate_address, AllocationId=alloc, InstanceId=theirs) == (
        "InvalidAllocationID.NotFound",
        400,
    )
    assert error(other.disassociate_address, AssociationId=assoc) == (
        "InvalidAssociationID.NotFound",
        400,
    )
    assert error(other.describe_addresses, PublicIps=[eip]) == ("InvalidAddress.NotFound", 400)
    assert other.describe_addresses()["Addresses"] == []
    tag = {"Resources": [alloc], "Tags": [{"Key": "k", "Value": "v"}]}
    assert error(other.create_tags, **tag) == ("InvalidAllocationID.NotFound", 400)
    # Nor can you put your address on their instance.
    assert error(user.associate_address, PublicIp=eip, InstanceId=theirs) == (
        "InvalidInstanceID.NotFound",
        400,
    )
    # Nor take over the public IP their instance was given.
    their_ip = public_ip(other, theirs)
    assert error(user.associate_address, PublicIp=their_ip, InstanceId=mine) == not_yours
    assert public_ip(user, mine) == eip
    user.release_address(PublicIp=eip)
    user.terminate_instances(InstanceIds=[mine])
    other.terminate_instances(InstanceIds=[theirs])


def test_filters(user: Any) -> None:
    (iid,) = launch(user)
    tagged = user.allocate_address(
        TagSpecifications=[
            {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "web"}]}
        ]
    )
    plain = user.allocate_address()
    assoc = user.associate_address(AllocationId=tagged["AllocationId"], InstanceId=iid)[
        "AssociationId"
    ]
    private = instance(user, iid)["PrivateIpAddress"]

    def found(name: str, *values: str) -> list[str]:
        addresses = user.describe_addresses(Filters=[{"Name": name, "Values": list(values)}])
        return sorted(a["PublicIp"] for a in addresses["Addresses"])

    both = sorted([tagged["PublicIp"], plain["PublicIp"]])
    assert found("public-ip", plain["PublicIp"]) == [plain["PublicIp"]]
    assert found("allocation-id", tagged["AllocationId"], plain["AllocationId"]) == both
    assert found("association-id", assoc) == [tagged["PublicIp"]]
    assert found("instance-id", iid) == [tagged["PublicIp"]]
    assert found("private-ip-address", private) == [tagged["PublicIp"]]
    assert found("domain", "standard") == both
    assert found("domain", "vpc") == []
    assert found("tag:Name", "w*") == [tagged["PublicIp"]]
    (listed,) = user.describe_addresses(PublicIps=[tagged["PublicIp"]])["Addresses"]
    assert listed["Tags"] == [{"Key": "Name", "Value": "web"}]
    user.create_tags(Resources=[plain["AllocationId"]], Tags=[{"Key": "Name", "Value": "db"}])
    assert found("tag:Name", "db") == [plain["PublicIp"]]
    user.release_address(PublicIp=tagged["PublicIp"])
    user.release_address(AllocationId=plain["AllocationId"])
    user.terminate_instances(InstanceIds=[iid])


def test_pool_exhaustion(user: Any, tiny_pool: list[str]) -> None:
    eip = user.allocate_address()["PublicIp"]
    assert eip == tiny_pool[0]
    (first,) = launch(user)
    assert public_ip(user, first) == tiny_pool[1]
    # An empty pool does not stop launches: the instance runs without a public address.
    (second,) = launch(user)
    shown = instance(user, second)
    assert "PublicIpAddress" not in shown and shown["PublicDnsName"] == ""
    assert error(user.allocate_address) == ("AddressLimitExceeded", 400)
    # Moving the elastic IP to the first instance gives its auto-assigned address back ...
    user.associate_address(PublicIp=eip, InstanceId=first)
    # ... which the second instance gets when the elastic IP moves on to it.
    user.associate_address(PublicIp=eip, InstanceId=second)
    assert public_ip(user, first) == tiny_pool[1]
    user.terminate_instances(InstanceIds=[first])
    wait_state(user, [first], "terminated")
    got: list[str] = []

    def allocated_again() -> bool:
        try:
            got.append(user.allocate_address()["PublicIp"])
        except ClientError:
            return False
        return True

    # The terminated instance's address goes back to the pool.
    until(allocated_again)
    assert got == [tiny_pool[1]]
    # With the pool empty, the instance an elastic IP leaves gets no public address.
    user.disassociate_address(PublicIp=eip)
    assert public_ip(user, second) is None
    for address in user.describe_addresses()["Addresses"]:
        user.release_address(AllocationId=address["AllocationId"])
    user.terminate_instances(InstanceIds=[second])


def test_aws_cli(cloud: Cloud, tmp_path: Path) -> None:
    _, ak, sk = new_account(cloud, tmp_path)

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cloud.aws_cli("ec2", *args, access_key=ak, secret_key=sk, check=check)

    out = json.loads(cli("allocate-address", "--domain", "vpc").stdout)
    assert out["AllocationId"].startswith("eipalloc-") and out["PublicIp"]
    listed = cli("describe-addresses", "--public-ips", out["PublicIp"])
    (address,) = json.loads(listed.stdout)["Addresses"]
    assert address["AllocationId"] == out["AllocationId"] and address["Domain"] == "vpc"
    missing = cli("describe-addresses", "--public-ips", UNKNOWN_IP, check=False)
    assert missing.returncode != 0 and "InvalidAddress.NotFound" in missing.stderr
    cli("release-address", "--allocation-id", out["AllocationId"])
    assert json.loads(cli("describe-addresses").stdout)["Addresses"] == []
