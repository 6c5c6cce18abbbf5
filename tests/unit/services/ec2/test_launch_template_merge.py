"""RunInstances from a launch template: the version's data are defaults, the request wins."""

from __future__ import annotations

from mallee.services.ec2.launch_template_merge import merge

DATA = {
    "ImageId": "emi-11111111",
    "InstanceType": "m1.large",
    "KeyName": "template-key",
    "RamDiskId": "eri-22222222",
    "SecurityGroupIds": ["sg-0123456789abcdef0"],
    "Placement": {"AvailabilityZone": "zone-a", "Tenancy": "default"},
    "Monitoring": {"Enabled": True},
    "InstanceRequirements": {"VCpuCount": {"Min": 1}},
    "TagSpecifications": [
        {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "web"}]},
        {"ResourceType": "volume", "Tags": [{"Key": "Disk", "Value": "root"}]},
    ],
}
SPEC = {"LaunchTemplateId": "lt-0123456789abcdef0", "Version": "$Latest"}


def test_the_template_fills_what_the_request_leaves_out() -> None:
    merged = merge({"MinCount": 1, "MaxCount": 2, "LaunchTemplate": SPEC}, DATA)
    assert merged["ImageId"] == "emi-11111111"
    assert merged["InstanceType"] == "m1.large"
    assert merged["KeyName"] == "template-key"
    assert (merged["MinCount"], merged["MaxCount"]) == (1, 2)
    # RunInstances spells the ramdisk otherwise; members it has none for are dropped.
    assert merged["RamdiskId"] == "eri-22222222"
    assert "RamDiskId" not in merged and "InstanceRequirements" not in merged
    assert "LaunchTemplate" not in merged


def test_the_request_wins_and_structures_merge_one_level_down() -> None:
    request = {
        "MinCount": 1,
        "MaxCount": 1,
        "LaunchTemplate": SPEC,
        "InstanceType": "m1.small",
        "Placement": {"AvailabilityZone": "zone-b"},
        "Monitoring": {"Enabled": False},
    }
    merged = merge(request, DATA)
    assert merged["InstanceType"] == "m1.small"
    assert merged["Placement"] == {"AvailabilityZone": "zone-b", "Tenancy": "default"}
    assert merged["Monitoring"] == {"Enabled": False}
    # The request's own dict is not changed.
    assert request["Placement"] == {"AvailabilityZone": "zone-b"}


def test_groups_by_name_replace_the_templates_groups_by_id() -> None:
    merged = merge({"MinCount": 1, "MaxCount": 1, "SecurityGroups": ["web"]}, DATA)
    assert merged["SecurityGroups"] == ["web"]
    assert "SecurityGroupIds" not in merged


def test_a_subnet_in_the_request_replaces_the_templates_interfaces() -> None:
    data = {**DATA, "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "subnet-aaaaaaaa"}]}
    merged = merge({"MinCount": 1, "MaxCount": 1, "SubnetId": "subnet-bbbbbbbb"}, data)
    assert merged["SubnetId"] == "subnet-bbbbbbbb"
    assert "NetworkInterfaces" not in merged
    kept = merge({"MinCount": 1, "MaxCount": 1}, data)
    assert kept["NetworkInterfaces"] == data["NetworkInterfaces"]


def test_tag_specifications_merge_per_type_and_key() -> None:
    request = {
        "MinCount": 1,
        "MaxCount": 1,
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Role", "Value": "db"}, {"Key": "Name", "Value": "x"}],
            }
        ],
    }
    specs = {s["ResourceType"]: s["Tags"] for s in merge(request, DATA)["TagSpecifications"]}
    assert specs["instance"] == [{"Key": "Role", "Value": "db"}, {"Key": "Name", "Value": "x"}]
    assert specs["volume"] == [{"Key": "Disk", "Value": "root"}]


def test_no_tags_anywhere_means_no_tag_specifications() -> None:
    data = {k: v for k, v in DATA.items() if k != "TagSpecifications"}
    assert "TagSpecifications" not in merge({"MinCount": 1, "MaxCount": 1}, data)
