"""Names with shell metacharacters reach no shell: key names, tag values and filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cloud

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def test_shell_metacharacters_are_plain_text(ec2: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    name = f"k;touch {marker};$(touch {marker})`touch {marker}`"
    ec2.create_key_pair(KeyName=name)
    emi = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    iid = ec2.run_instances(
        ImageId=emi["Images"][0]["ImageId"],
        MinCount=1,
        MaxCount=1,
        KeyName=name,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "n", "Value": name}]}],
    )["Instances"][0]["InstanceId"]
    found = ec2.describe_instances(Filters=[{"Name": "key-name", "Values": [name]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [iid]
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_key_pair(KeyName=name)
    assert not marker.exists()
