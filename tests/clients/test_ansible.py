"""Ansible with the amazon.aws collection, unchanged, against a live cloud: what a playbook
author writes for key pairs, groups, tags, elastic IPs, instances (inventory), S3 buckets and
objects, and IAM users, groups, roles and managed policies. Each flow runs twice: the second
run must change nothing (the modules' idempotence is how their authors judge an API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e

PLAY_HEADER = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
"""


def _env(cloud: Cloud, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO", "ANSIBLE_"))}
    env.update(
        AWS_ACCESS_KEY_ID=cloud.admin.access_key,
        AWS_SECRET_ACCESS_KEY=cloud.admin.secret_key,
        AWS_REGION=REGION,
        AWS_URL=cloud.endpoint,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
        ANSIBLE_HOME=str(tmp / "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="json",
    )
    return env


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def play(cloud: Cloud, tmp: Path, tasks: str, **extra: str) -> dict[str, Any]:
    """Run a playbook of `tasks` (YAML, indented four spaces); the json callback's stats."""
    book = tmp / f"play-{uuid.uuid4().hex[:6]}.yml"
    book.write_text(PLAY_HEADER + tasks)
    args = [_bin("ansible-playbook"), "-i", "localhost,", str(book)]
    for key, value in extra.items():
        args += ["-e", f"{key}={value}"]
    out = subprocess.run(args, env=_env(cloud, tmp), capture_output=True, text=True, timeout=600)
    try:
        report: dict[str, Any] = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"ansible-playbook: {out.stdout}\n{out.stderr}") from None
    stats = report["stats"]["localhost"]
    if out.returncode != 0 or stats["failures"]:
        failed = [
            (t["task"]["name"], h)
            for p in report["plays"]
            for t in p["tasks"]
            for h in t["hosts"].values()
            if h.get("failed")
        ]
        raise AssertionError(f"playbook failed: {json.dumps(failed, indent=1)[:6000]}")
    return report


def changed(report: dict[str, Any]) -> int:
    return int(report["stats"]["localhost"]["changed"])


EC2_TASKS = """
    - name: key pair
      amazon.aws.ec2_key:
        name: "{{ prefix }}-key"
      register: key
    - name: security group with rules
      amazon.aws.ec2_security_group:
        name: "{{ prefix }}-web"
        description: web servers
        rules:
          - proto: tcp
            ports: [22, 80]
            cidr_ip: 0.0.0.0/0
      register: group
    - name: tags on the group
      amazon.aws.ec2_tag:
        resource: "{{ group.group_id }}"
        tags:
          env: test
    - name: tags read back
      amazon.aws.ec2_tag_info:
        resource: "{{ group.group_id }}"
      register: tags
    - ansible.builtin.assert:
        that:
          - tags.tags.env == "test"
          - group.ip_permissions | length == 2
"""

EC2_CLEANUP = """
    - amazon.aws.ec2_security_group:
        name: "{{ prefix }}-web"
        state: absent
    - amazon.aws.ec2_key:
        name: "{{ prefix }}-key"
        state: absent
"""


def test_ec2_keys_groups_tags(module_cloud: Cloud, tmp_path: Path) -> None:
    prefix = f"an{uuid.uuid4().hex[:6]}"
    first = play(module_cloud, tmp_path, EC2_TASKS, prefix=prefix)
    assert changed(first) >= 3
    again = play(module_cloud, tmp_path, EC2_TASKS, prefix=prefix)
    assert changed(again) == 0, "a second run changes nothing"
    play(module_cloud, tmp_path, EC2_CLEANUP, prefix=prefix)
    ec2 = module_cloud.client("ec2")
    assert not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [f"{prefix}-key"]}])[
        "KeyPairs"
    ]


EIP_TASKS = """
    - name: an elastic IP
      amazon.aws.ec2_eip:
        state: present
        tag_name: purpose
        tag_value: "{{ prefix }}"
      register: eip
    - amazon.aws.ec2_eip_info:
        filters:
          public-ip: "{{ eip.public_ip }}"
      register: found
    - ansible.builtin.assert:
        that:
          - found.addresses | length == 1
    - amazon.aws.ec2_eip:
        state: absent
        public_ip: "{{ eip.public_ip }}"
"""


def test_elastic_ip(module_cloud: Cloud, tmp_path: Path) -> None:
    report = play(module_cloud, tmp_path, EIP_TASKS, prefix=f"an{uuid.uuid4().hex[:6]}")
    assert changed(report) >= 2


def test_inventory_plugin_lists_running_instances(module_cloud: Cloud, tmp_path: Path) -> None:
    ec2 = module_cloud.client("ec2")
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    tag = f"inv{uuid.uuid4().hex[:6]}"
    res = ec2.run_instances(
        ImageId=image["Images"][0]["ImageId"],
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "fleet", "Value": tag}]}],
    )
    ids = sorted(i["InstanceId"] for i in res["Instances"])
    try:
        _wait_running(ec2, ids)
        inventory = tmp_path / "mallee.aws_ec2.yml"
        inventory.write_text(
            "plugin: amazon.aws.aws_ec2\n"
            f"regions: [{REGION}]\n"
            f"endpoint_url: {module_cloud.endpoint}\n"
            "filters:\n"
            f"  tag:fleet: {tag}\n"
            "hostnames: [instance-id]\n"
            "keyed_groups:\n"
            "  - key: tags.fleet\n"
            "    prefix: fleet\n"
        )
        out = subprocess.run(
            [_bin("ansible-inventory"), "-i", str(inventory), "--list"],
            env=_env(module_cloud, tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        listed = json.loads(out.stdout)
        assert sorted(listed[f"fleet_{tag}"]["hosts"]) == ids
        host = listed["_meta"]["hostvars"][ids[0]]
        assert _plain(host["private_ip_address"]) and _plain(host["state"]["name"]) == "running"
    finally:
        ec2.terminate_instances(InstanceIds=ids)


def _plain(value: Any) -> Any:
    """ansible-inventory marks values read from the cloud as unsafe: {"__ansible_unsafe": v}."""
    return value.get("__ansible_unsafe", value) if isinstance(value, dict) else value


def _wait_running(ec2: Any, ids: list[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        if all(i["State"]["Name"] == "running" for r in found for i in r["Instances"]):
            return
        time.sleep(0.3)
    raise AssertionError(f"{ids} not running")


S3_TASKS = """
    - name: a bucket with versioning, a policy and tags
      amazon.aws.s3_bucket:
        name: "{{ bucket }}"
        versioning: true
        tags:
          team: storage
        policy: |
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
           "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{{ bucket }}/public/*"}]}
      register: made
    - name: an object
      amazon.aws.s3_object:
        bucket: "{{ bucket }}"
        object: public/hello.txt
        content: hello from ansible
        mode: put
    - name: the object read back
      amazon.aws.s3_object:
        bucket: "{{ bucket }}"
        object: public/hello.txt
        mode: getstr
      register: got
    - ansible.builtin.assert:
        that:
          - got.contents == "hello from ansible"
          - made.versioning.Versioning == "Enabled"
          - made.tags.team == "storage"
"""

S3_CLEANUP = """
    - amazon.aws.s3_bucket:
        name: "{{ bucket }}"
        state: absent
        force: true
"""


def test_s3_bucket_with_versioning_policy_tags(module_cloud: Cloud, tmp_path: Path) -> None:
    bucket = f"ansible-{uuid.uuid4().hex[:8]}"
    play(module_cloud, tmp_path, S3_TASKS, bucket=bucket)
    s3 = module_cloud.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    play(module_cloud, tmp_path, S3_CLEANUP, bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


IAM_TASKS = """
    - name: a managed policy of the account's own
      amazon.aws.iam_managed_policy:
        state: present
        name: "{{ prefix }}-read-logs"
        policy: |
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
           "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}
      register: policy
    - name: a user
      amazon.aws.iam_user:
        state: present
        name: "{{ prefix }}-alice"
        managed_policies:
          - arn:aws:iam::aws:policy/ReadOnlyAccess
    - name: a group with the user and the policy
      amazon.aws.iam_group:
        state: present
        name: "{{ prefix }}-ops"
        users: ["{{ prefix }}-alice"]
        managed_policies: ["{{ policy.policy.arn }}"]
    - name: a role EC2 may assume, with an AWS-managed policy
      amazon.aws.iam_role:
        state: present
        name: "{{ prefix }}-web"
        assume_role_policy_document: |
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
           "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        managed_policies:
          - arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
        create_instance_profile: true
"""

IAM_CLEANUP = """
    - amazon.aws.iam_role:
        name: "{{ prefix }}-web"
        state: absent
    - amazon.aws.iam_group:
        name: "{{ prefix }}-ops"
        state: absent
    - amazon.aws.iam_user:
        name: "{{ prefix }}-alice"
        state: absent
    - amazon.aws.iam_managed_policy:
        name: "{{ prefix }}-read-logs"
        state: absent
"""


def test_iam_users_groups_roles_managed_policies(module_cloud: Cloud, tmp_path: Path) -> None:
    prefix = f"an{uuid.uuid4().hex[:6]}"
    play(module_cloud, tmp_path, IAM_TASKS, prefix=prefix)
    iam = module_cloud.client("iam")
    attached = iam.list_attached_role_policies(RoleName=f"{prefix}-web")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonS3ReadOnlyAccess"]
    assert iam.get_group(GroupName=f"{prefix}-ops")["Users"][0]["UserName"] == f"{prefix}-alice"
    again = play(module_cloud, tmp_path, IAM_TASKS, prefix=prefix)
    assert changed(again) == 0, "a second run changes nothing"
    play(module_cloud, tmp_path, IAM_CLEANUP, prefix=prefix)
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    assert f"{prefix}-alice" not in names
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == f"{prefix}-web"]
