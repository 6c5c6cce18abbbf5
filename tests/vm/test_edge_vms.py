"""EDGE networking with real VMs on two nodes, driven through boto3: security groups on the
data path, public and elastic IPs reached from the public namespace, VM-to-VM across nodes,
and the metadata service as the guest sees it (including instance profile credentials)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.vm.cloud import REGION, VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, in_ns, ssh

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def cloud2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("edge"), nodes=2)


def curl(outside: str, url: str) -> str | None:
    """`url` fetched from the namespace `outside` (the cloud's public one)."""
    out = in_ns(outside, "curl", "-s", "--connect-timeout", "1", "-m", "2", url)
    return out.stdout if out.returncode == 0 else None


def wait_answer(outside: str, url: str, expected: str | None, timeout: float = 30) -> float:
    """Seconds until `url` answers with text containing `expected` (None: until it fails)."""
    start = time.monotonic()

    def ok() -> bool:
        got = curl(outside, url)
        return got is None if expected is None else got is not None and expected in got

    wait_until(ok, timeout, interval=0.05)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def web(cloud2: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two running instances in group `web`, one per node, with a key pair."""
    for component in cloud2.extra_nodes:
        assert cloud2.procs[component].poll() is None
    wait_until(lambda: all(_reported(cloud2, n) for n in cloud2.node_names()), 120)
    ec2 = cloud2.client("ec2")
    name = f"web-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=name, Description="web servers")["GroupId"]
    key = tmp_path_factory.mktemp("key") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=default_image(ec2), MinCount=2, MaxCount=2, KeyName=name, SecurityGroups=[name]
        )["Instances"]
    ]
    found = wait_until(lambda: all_in(ec2, ids, "running"), 120)
    for iid in ids:
        wait_until(lambda iid=iid: "EUCA-READY" in console(ec2, iid), 120)
    return {"ec2": ec2, "group": group, "name": name, "key": key, "instances": found,
            "outside": cloud2.public_netns()}  # fmt: skip


def _reported(cloud: VmCloud, node: str) -> bool:
    try:
        return bool(cloud.netns(node))
    except AssertionError:
        return False


def test_instances_spread_over_both_nodes_with_public_ips(
    cloud2: VmCloud, web: dict[str, Any]
) -> None:
    nodes = {cloud2.node_of(i["InstanceId"]) for i in web["instances"]}
    assert nodes == set(cloud2.node_names())
    for inst in web["instances"]:
        assert inst["PublicIpAddress"].startswith("203.0.113.")
        assert inst["PublicDnsName"]


def test_port_opens_and_closes_with_the_group(web: dict[str, Any]) -> None:
    ec2, group = web["ec2"], web["group"]
    inst = web["instances"][0]
    url = f"http://{inst['PublicIpAddress']}/"
    assert curl(web["outside"], url) is None
    permission = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}  # fmt: skip
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    opened = wait_answer(web["outside"], url, inst["InstanceId"])
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[permission])
    closed = wait_answer(web["outside"], url, None)
    print(f"authorize -> answering {opened:.2f} s; revoke -> blocked {closed:.2f} s")


def test_elastic_ip_follows_its_instance(web: dict[str, Any]) -> None:
    ec2, group = web["ec2"], web["group"]
    first, second = web["instances"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="203.0.113.0/24"
    )
    eip = ec2.allocate_address()["PublicIp"]
    try:
        ec2.associate_address(PublicIp=eip, InstanceId=first["InstanceId"])
        wait_answer(web["outside"], f"http://{eip}/", first["InstanceId"])
        ec2.associate_address(PublicIp=eip, InstanceId=second["InstanceId"])
        wait_answer(web["outside"], f"http://{eip}/", second["InstanceId"])
        ec2.disassociate_address(PublicIp=eip)
        wait_answer(web["outside"], f"http://{eip}/", None)
    finally:
        ec2.release_address(PublicIp=eip)
        ec2.revoke_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="203.0.113.0/24"
        )


def test_vms_on_two_nodes_ping_only_when_allowed(cloud2: VmCloud, web: dict[str, Any]) -> None:
    ec2, group, key = web["ec2"], web["group"], web["key"]
    first, second = web["instances"]
    netns = cloud2.netns(cloud2.node_of(first["InstanceId"]))
    target = second["PrivateIpAddress"]

    def ping() -> bool:
        out = ssh(netns, key, first["PrivateIpAddress"], f"ping -c 1 -W 1 {target}")
        return out.returncode == 0

    assert not ping()
    icmp = {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1,
            "UserIdGroupPairs": [{"GroupId": group}]}  # fmt: skip
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[icmp])
    wait_until(ping, 30)
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[icmp])
    wait_until(lambda: not ping(), 30)


def test_guest_reads_its_own_metadata(cloud2: VmCloud, web: dict[str, Any]) -> None:
    key, ec2 = web["key"], web["ec2"]
    # Fresh views: the elastic IP test left each instance a new public IP.
    for inst in all_in(ec2, [i["InstanceId"] for i in web["instances"]], "running") or []:
        netns = cloud2.netns(cloud2.node_of(inst["InstanceId"]))

        def md(path: str, inst: dict[str, Any] = inst, netns: str = netns) -> str:
            url = f"http://169.254.169.254/latest/meta-data/{path}"
            out = ssh(netns, key, inst["PrivateIpAddress"], f"wget -q -O - {url}")
            assert out.returncode == 0, out.stderr
            return out.stdout

        assert md("instance-id") == inst["InstanceId"]
        assert md("local-ipv4") == inst["PrivateIpAddress"]
        assert md("public-ipv4") == inst["PublicIpAddress"]
        assert md("security-groups") == inst["SecurityGroups"][0]["GroupName"]
        assert md("placement/availability-zone") == inst["Placement"]["AvailabilityZone"]


def test_the_cloud_answers_dns_for_its_instances(cloud2: VmCloud, web: dict[str, Any]) -> None:
    """From the outside (the public namespace's resolver) and from a guest (DHCP's)."""
    key, ec2, outside = web["key"], web["ec2"], web["outside"]
    found = all_in(ec2, [i["InstanceId"] for i in web["instances"]], "running") or []
    for inst in found:
        for name, ip in ((inst["PublicDnsName"], inst["PublicIpAddress"]),
                         (inst["PrivateDnsName"], inst["PrivateIpAddress"])):  # fmt: skip
            assert name.startswith("euca-") and name.split(".", 1)[0][5:] == ip.replace(".", "-")

            def resolves(name: str = name, ip: str = ip) -> bool:
                out = in_ns(outside, "getent", "hosts", name)
                return out.returncode == 0 and out.stdout.split()[0] == ip

            # The records reload within half a second of an address moving (the elastic IP
            # test before this one gave each instance a new public IP).
            wait_until(resolves, 10, interval=0.1)
    zone = found[0]["PublicDnsName"].split(".", 1)[1]
    assert in_ns(outside, "getent", "hosts", f"euca-198-51-100-250.{zone}").returncode == 2
    inst, other = found[0], found[-1]
    netns = cloud2.netns(cloud2.node_of(inst["InstanceId"]))
    out = ssh(netns, key, inst["PrivateIpAddress"], f"busybox nslookup {other['PublicDnsName']}")
    assert out.returncode == 0 and other["PublicIpAddress"] in out.stdout, out.stdout + out.stderr


def test_instance_profile_credentials_work_against_the_api(
    cloud2: VmCloud, web: dict[str, Any]
) -> None:
    iam, ec2 = cloud2.client("iam"), web["ec2"]
    name = f"app-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "ec2.amazonaws.com"}}]}  # fmt: skip
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    allow = {"Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [allow]}
    iam.put_role_policy(RoleName=name, PolicyName="regions", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    iid = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=1,
        MaxCount=1,
        KeyName=web["name"],
        SecurityGroups=[web["name"]],
        IamInstanceProfile={"Name": name},
    )["Instances"][0]["InstanceId"]
    try:
        inst = wait_until(lambda: all_in(ec2, [iid], "running"), 120)[0]
        assert inst["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{name}")
        wait_until(lambda: "EUCA-READY" in console(ec2, iid), 120)
        netns = cloud2.netns(cloud2.node_of(iid))
        url = f"http://169.254.169.254/latest/meta-data/iam/security-credentials/{name}"
        out = ssh(netns, web["key"], inst["PrivateIpAddress"], f"wget -q -O - {url}")
        creds = json.loads(out.stdout)
        assert creds["Code"] == "Success"
        as_role = boto3.client(
            "ec2",
            endpoint_url=cloud2.endpoint,
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["Token"],
            config=Config(retries={"max_attempts": 1}),
        )
        assert as_role.describe_regions()["Regions"]
        with pytest.raises(ClientError) as denied:
            as_role.describe_instances()
        assert denied.value.response["Error"]["Code"] in ("UnauthorizedOperation", "AccessDenied")
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
