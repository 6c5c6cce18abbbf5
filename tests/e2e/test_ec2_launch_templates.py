"""EC2 launch templates through boto3: every action, AWS's errors, and RunInstances from a
template (its version's data the defaults, the request's own parameters winning). The node
runs the fake hypervisor: instances are rows that run."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image, wait_state
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

# The least data a template can have: the EC2 query protocol sends no empty structure, and
# LaunchTemplateData is required.
SMALL = {"InstanceType": "t1.micro"}


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str = "lt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Account:
    def __init__(self, cloud: Cloud, access_key: str, secret_key: str) -> None:
        self.ec2 = cloud.client("ec2", access_key, secret_key)
        # Without botocore's own checks, so the server's answer is what is seen.
        self.raw = cloud.client("ec2", access_key, secret_key, parameter_validation=False)
        self.iam = cloud.client("iam", access_key, secret_key)
        self.image = default_image(self.ec2)


@pytest.fixture(scope="module")
def acct(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    _, access, secret = new_account(cloud, tmp_path_factory.mktemp("lt-a"))
    return Account(cloud, access, secret)


@pytest.fixture(scope="module")
def other(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    _, access, secret = new_account(cloud, tmp_path_factory.mktemp("lt-b"))
    return Account(cloud, access, secret)


def create(acct: Account, name: str, **data: Any) -> dict[str, Any]:
    template: dict[str, Any] = acct.ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": acct.image, "InstanceType": "t1.micro", **data},
    )["LaunchTemplate"]
    return template


def test_create_describe_filter_page_and_tag(acct: Account) -> None:
    name = unique("web")
    made = acct.ec2.create_launch_template(
        LaunchTemplateName=name,
        VersionDescription="first",
        LaunchTemplateData={"ImageId": acct.image, "InstanceType": "t1.micro"},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "blue"}]}
        ],
    )["LaunchTemplate"]
    assert made["LaunchTemplateId"].startswith("lt-") and len(made["LaunchTemplateId"]) == 20
    assert made["LaunchTemplateName"] == name
    assert (made["DefaultVersionNumber"], made["LatestVersionNumber"]) == (1, 1)
    assert made["CreatedBy"].endswith(":root")
    assert made["Tags"] == [{"Key": "team", "Value": "blue"}]
    template_id = made["LaunchTemplateId"]

    by_id = acct.ec2.describe_launch_templates(LaunchTemplateIds=[template_id])
    assert [t["LaunchTemplateName"] for t in by_id["LaunchTemplates"]] == [name]
    by_name = acct.ec2.describe_launch_templates(LaunchTemplateNames=[name])
    assert by_name["LaunchTemplates"][0]["LaunchTemplateId"] == template_id
    for flt in (
        {"Name": "launch-template-name", "Values": [name[:6] + "*"]},
        {"Name": "tag:team", "Values": ["blue"]},
        {"Name": "tag-key", "Values": ["team"]},
        {"Name": "create-time", "Values": [made["CreateTime"].strftime("%Y-%m-%d") + "*"]},
    ):
        found = acct.ec2.describe_launch_templates(Filters=[flt])["LaunchTemplates"]
        assert template_id in [t["LaunchTemplateId"] for t in found], flt
    none = acct.ec2.describe_launch_templates(Filters=[{"Name": "tag:team", "Values": ["red"]}])
    assert template_id not in [t["LaunchTemplateId"] for t in none["LaunchTemplates"]]

    # Tags through CreateTags/DeleteTags too, as any EC2 resource.
    acct.ec2.create_tags(Resources=[template_id], Tags=[{"Key": "env", "Value": "prod"}])
    tags = acct.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [template_id]}])
    assert {(t["Key"], t["ResourceType"]) for t in tags["Tags"]} == {
        ("team", "launch-template"),
        ("env", "launch-template"),
    }
    acct.ec2.delete_tags(Resources=[template_id], Tags=[{"Key": "env"}])

    # Pages: MaxResults 1 walks every template once.
    create(acct, unique("page"))
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = acct.ec2.describe_launch_templates(MaxResults=1, **token)
        assert len(page["LaunchTemplates"]) <= 1
        seen += [t["LaunchTemplateId"] for t in page["LaunchTemplates"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    everything = acct.ec2.describe_launch_templates()["LaunchTemplates"]
    assert sorted(seen) == sorted(t["LaunchTemplateId"] for t in everything)
    assert len(seen) == len(set(seen)) >= 2


def test_creation_errors_and_client_token(acct: Account) -> None:
    name = unique()
    create(acct, name)
    with pytest.raises(ClientError) as err:
        create(acct, name)
    assert code(err) == ("InvalidLaunchTemplateName.AlreadyExistsException", 400)
    for bad in ("ab", "has space", "x" * 129):
        with pytest.raises(ClientError) as err:
            acct.raw.create_launch_template(LaunchTemplateName=bad, LaunchTemplateData=SMALL)
        assert code(err) == ("InvalidLaunchTemplateName.MalformedException", 400), bad
    with pytest.raises(ClientError) as err:
        create(acct, unique(), ImageId="emi-00000000")
    assert code(err) == ("InvalidAMIID.NotFound", 400)
    with pytest.raises(ClientError) as err:
        create(acct, unique(), ImageId="not-an-image")
    assert code(err) == ("InvalidAMIID.Malformed", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.create_launch_template(
            LaunchTemplateName=unique(), LaunchTemplateData=SMALL, DryRun=True
        )
    assert code(err) == ("DryRunOperation", 412)
    with pytest.raises(ClientError) as err:
        acct.raw.create_launch_template(
            LaunchTemplateName=unique(), LaunchTemplateData=SMALL, VersionDescription="d" * 256
        )
    assert code(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.create_launch_template(
            LaunchTemplateName=unique(),
            LaunchTemplateData=SMALL,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
    assert code(err) == ("InvalidParameterValue", 400)

    # The same ClientToken answers the first request again, and makes nothing new.
    token, tokened = str(uuid.uuid4()), unique("tok")
    first = acct.ec2.create_launch_template(
        LaunchTemplateName=tokened, LaunchTemplateData=SMALL, ClientToken=token
    )["LaunchTemplate"]
    again = acct.ec2.create_launch_template(
        LaunchTemplateName=tokened, LaunchTemplateData=SMALL, ClientToken=token
    )["LaunchTemplate"]
    assert again["LaunchTemplateId"] == first["LaunchTemplateId"]
    with pytest.raises(ClientError) as err:
        acct.ec2.create_launch_template(
            LaunchTemplateName=unique(), LaunchTemplateData=SMALL, ClientToken=token
        )
    assert code(err) == ("IdempotentParameterMismatch", 400)
    # Nothing half-made: the failed creations left no template.
    names = [
        t["LaunchTemplateName"] for t in acct.ec2.describe_launch_templates()["LaunchTemplates"]
    ]
    assert names.count(name) == 1 and names.count(tokened) == 1


def test_lookup_errors(acct: Account) -> None:
    missing = "lt-0123456789abcdef0"
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_templates(LaunchTemplateIds=[missing])
    assert code(err) == ("InvalidLaunchTemplateId.NotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_templates(LaunchTemplateIds=["lt-nothex"])
    assert code(err) == ("InvalidLaunchTemplateId.Malformed", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_templates(LaunchTemplateNames=[unique("gone")])
    assert code(err) == ("InvalidLaunchTemplateName.NotFoundException", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_templates(Filters=[{"Name": "owner", "Values": ["x"]}])
    assert code(err) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.modify_launch_template(LaunchTemplateName=unique("gone"), DefaultVersion="1")
    assert code(err) == ("InvalidLaunchTemplateName.NotFoundException", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.delete_launch_template(LaunchTemplateId=missing)
    assert code(err) == ("InvalidLaunchTemplateId.NotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.ec2.delete_launch_template()
    assert code(err) == ("MissingParameter", 400)
    template = create(acct, unique())
    with pytest.raises(ClientError) as err:
        acct.ec2.delete_launch_template(
            LaunchTemplateId=template["LaunchTemplateId"],
            LaunchTemplateName=template["LaunchTemplateName"],
        )
    assert code(err) == ("InvalidParameterCombination", 400)


def test_versions_default_and_deletion(acct: Account) -> None:
    name = unique("ver")
    template_id = create(acct, name, KeyName="none-yet")["LaunchTemplateId"]
    v2 = acct.ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion="1",
        VersionDescription="bigger",
        LaunchTemplateData={"InstanceType": "m1.small"},
    )["LaunchTemplateVersion"]
    assert v2["VersionNumber"] == 2 and v2["DefaultVersion"] is False
    # The source's data with the new version's members on top.
    assert v2["LaunchTemplateData"]["ImageId"] == acct.image
    assert v2["LaunchTemplateData"]["KeyName"] == "none-yet"
    assert v2["LaunchTemplateData"]["InstanceType"] == "m1.small"
    v3 = acct.ec2.create_launch_template_version(
        LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "m1.medium"}
    )["LaunchTemplateVersion"]
    assert v3["VersionNumber"] == 3 and "ImageId" not in v3["LaunchTemplateData"]
    with pytest.raises(ClientError) as err:
        acct.ec2.create_launch_template_version(
            LaunchTemplateId=template_id, SourceVersion="9", LaunchTemplateData=SMALL
        )
    assert code(err) == ("InvalidLaunchTemplateId.VersionNotFound", 400)

    def versions(**kw: Any) -> list[int]:
        found = acct.ec2.describe_launch_template_versions(LaunchTemplateId=template_id, **kw)
        return [v["VersionNumber"] for v in found["LaunchTemplateVersions"]]

    assert versions() == [1, 2, 3]
    assert versions(Versions=["$Latest", "$Default"]) == [1, 3]
    assert versions(MinVersion="2") == [2, 3] and versions(MaxVersion="2") == [1, 2]
    assert versions(Filters=[{"Name": "instance-type", "Values": ["m1.*"]}]) == [2, 3]
    assert versions(Filters=[{"Name": "is-default-version", "Values": ["true"]}]) == [1]
    with pytest.raises(ClientError) as err:
        versions(Versions=["7"])
    assert code(err) == ("InvalidLaunchTemplateId.VersionNotFound", 400)
    with pytest.raises(ClientError) as err:
        versions(Versions=["latest"])
    assert code(err) == ("InvalidParameterValue", 400)

    modified = acct.ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    assert modified["LaunchTemplate"]["DefaultVersionNumber"] == 2
    assert versions(Versions=["$Default"]) == [2]
    with pytest.raises(ClientError) as err:
        acct.ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="12")
    assert code(err) == ("InvalidLaunchTemplateId.VersionNotFound", 400)

    # Without a template named: each template's $Latest.
    every = acct.ec2.describe_launch_template_versions(Versions=["$Latest"])
    latest = {v["LaunchTemplateId"]: v["VersionNumber"] for v in every["LaunchTemplateVersions"]}
    assert latest[template_id] == 3
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_template_versions(Versions=["1"])
    assert code(err) == ("MissingParameter", 400)

    out = acct.ec2.delete_launch_template_versions(
        LaunchTemplateId=template_id, Versions=["2", "3", "8"]
    )
    assert [v["VersionNumber"] for v in out["SuccessfullyDeletedLaunchTemplateVersions"]] == [3]
    refused = {
        v["VersionNumber"]: v["ResponseError"]["Code"]
        for v in out["UnsuccessfullyDeletedLaunchTemplateVersions"]
    }
    assert refused == {2: "unexpectedError", 8: "launchTemplateVersionDoesNotExist"}
    assert versions() == [1, 2]
    described = acct.ec2.describe_launch_templates(LaunchTemplateIds=[template_id])
    assert described["LaunchTemplates"][0]["LatestVersionNumber"] == 2
    # The next version takes the next number after the highest left.
    v3 = acct.ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData=SMALL
    )["LaunchTemplateVersion"]
    assert v3["VersionNumber"] == 3

    # Idempotent versions: the same ClientToken answers the same version.
    token = str(uuid.uuid4())
    a = acct.ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData=SMALL, ClientToken=token
    )["LaunchTemplateVersion"]
    b = acct.ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData=SMALL, ClientToken=token
    )["LaunchTemplateVersion"]
    assert a["VersionNumber"] == b["VersionNumber"] == 4

    deleted = acct.ec2.delete_launch_template(LaunchTemplateName=name)["LaunchTemplate"]
    assert deleted["LaunchTemplateId"] == template_id
    with pytest.raises(ClientError) as err:
        acct.ec2.describe_launch_template_versions(LaunchTemplateId=template_id)
    assert code(err) == ("InvalidLaunchTemplateId.NotFound", 400)


def test_run_instances_from_a_template_with_overrides(acct: Account) -> None:
    key = unique("key")
    acct.ec2.create_key_pair(KeyName=key)
    user_data = base64.b64encode(b"#!/bin/sh\necho template\n").decode()
    name = unique("run")
    template = create(
        acct,
        name,
        KeyName=key,
        UserData=user_data,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Role", "Value": "web"}, {"Key": "Tier", "Value": "front"}],
            }
        ],
    )
    template_id = template["LaunchTemplateId"]
    acct.ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "m1.small"},
    )

    # $Default (version 1) by name: everything from the template.
    first = acct.ec2.run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": name}
    )["Instances"][0]
    assert first["ImageId"] == acct.image
    assert first["InstanceType"] == "t1.micro" and first["KeyName"] == key
    # $Latest by id, the request's type and tags winning.
    second = acct.ec2.run_instances(
        MinCount=1,
        MaxCount=1,
        InstanceType="m1.medium",
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "db"}]}],
    )["Instances"][0]
    assert second["InstanceType"] == "m1.medium" and second["KeyName"] == key
    running = wait_state(acct.ec2, [first["InstanceId"], second["InstanceId"]], "running")
    tags = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in running}
    assert tags[first["InstanceId"]] == {"Role": "web", "Tier": "front"}
    assert tags[second["InstanceId"]] == {"Role": "db", "Tier": "front"}
    attr = acct.ec2.describe_instance_attribute(
        InstanceId=first["InstanceId"], Attribute="userData"
    )
    assert attr["UserData"]["Value"] == user_data
    # Version 2 by number: its type.
    third = acct.ec2.run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template_id, "Version": "2"}
    )["Instances"][0]
    assert third["InstanceType"] == "m1.small"

    # GetLaunchTemplateData: a template's data that would launch the same instance.
    data = acct.ec2.get_launch_template_data(InstanceId=second["InstanceId"])["LaunchTemplateData"]
    assert data["ImageId"] == acct.image and data["InstanceType"] == "m1.medium"
    assert data["KeyName"] == key
    assert data["TagSpecifications"][0]["ResourceType"] == "instance"
    copied = acct.ec2.create_launch_template(
        LaunchTemplateName=unique("copy"), LaunchTemplateData=data
    )
    assert copied["LaunchTemplate"]["LatestVersionNumber"] == 1
    with pytest.raises(ClientError) as err:
        acct.ec2.get_launch_template_data(InstanceId="i-0123456789abcdef0")
    assert code(err) == ("InvalidInstanceID.NotFound", 400)

    ids = [first["InstanceId"], second["InstanceId"], third["InstanceId"]]
    acct.ec2.terminate_instances(InstanceIds=ids)


def test_run_instances_template_errors_and_checks(acct: Account) -> None:
    def run(**kw: Any) -> Any:
        return acct.ec2.run_instances(MinCount=1, MaxCount=1, **kw)

    with pytest.raises(ClientError) as err:
        run(LaunchTemplate={"LaunchTemplateId": "lt-0123456789abcdef0"})
    assert code(err) == ("InvalidLaunchTemplateId.NotFound", 400)
    with pytest.raises(ClientError) as err:
        run(LaunchTemplate={"LaunchTemplateName": unique("gone")})
    assert code(err) == ("InvalidLaunchTemplateName.NotFoundException", 400)
    template = create(acct, unique())
    with pytest.raises(ClientError) as err:
        run(LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "5"})
    assert code(err) == ("InvalidLaunchTemplateId.VersionNotFound", 400)
    # RunInstances' own checks apply to the merged request: the template's key must exist.
    keyed = create(acct, unique(), KeyName=unique("nokey"))
    with pytest.raises(ClientError) as err:
        run(LaunchTemplate={"LaunchTemplateId": keyed["LaunchTemplateId"]})
    assert code(err) == ("InvalidKeyPair.NotFound", 400)
    # No image anywhere: the request must say one.
    bare = acct.ec2.create_launch_template(LaunchTemplateName=unique(), LaunchTemplateData=SMALL)
    with pytest.raises(ClientError) as err:
        run(LaunchTemplate={"LaunchTemplateId": bare["LaunchTemplate"]["LaunchTemplateId"]})
    assert code(err) == ("MissingParameter", 400)
    with pytest.raises(ClientError) as err:
        run(
            InstanceType="no.such",
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
        )
    assert code(err) == ("InvalidParameterValue", 400)


def test_another_account_cannot_reach_the_template(acct: Account, other: Account) -> None:
    template = create(acct, unique("mine"))
    template_id, name = template["LaunchTemplateId"], template["LaunchTemplateName"]
    calls = (
        lambda: other.ec2.describe_launch_templates(LaunchTemplateIds=[template_id]),
        lambda: other.ec2.describe_launch_template_versions(LaunchTemplateId=template_id),
        lambda: other.ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="1"),
        lambda: other.ec2.delete_launch_template(LaunchTemplateId=template_id),
        lambda: other.ec2.delete_launch_template_versions(
            LaunchTemplateId=template_id, Versions=["1"]
        ),
        lambda: other.ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData=SMALL
        ),
        lambda: other.ec2.run_instances(
            MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template_id}
        ),
        lambda: other.ec2.create_tags(Resources=[template_id], Tags=[{"Key": "a", "Value": "b"}]),
    )
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("InvalidLaunchTemplateId.NotFound", 400)
    assert template_id not in [
        t["LaunchTemplateId"] for t in other.ec2.describe_launch_templates()["LaunchTemplates"]
    ]
    # Names are per account: B may have one of the same name.
    mine = create(other, name)
    assert mine["LaunchTemplateId"] != template_id
    still = acct.ec2.describe_launch_templates(LaunchTemplateIds=[template_id])
    assert still["LaunchTemplates"][0]["LatestVersionNumber"] == 1


def test_policies_decide_on_the_template_arn(acct: Account, cloud: Cloud) -> None:
    """A Deny on one template's ARN refuses launching from it and changing it; other
    templates and plain launches are still allowed."""
    denied = create(acct, unique("denied"))
    allowed = create(acct, unique("allowed"))
    region = acct.ec2.meta.region_name
    arn = f"arn:aws:ec2:{region}:*:launch-template/{denied['LaunchTemplateId']}"
    user = unique("user")
    acct.iam.create_user(UserName=user)
    acct.iam.put_user_policy(
        UserName=user,
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "ec2:*", "Resource": arn},
                ],
            }
        ),
    )
    key = acct.iam.create_access_key(UserName=user)["AccessKey"]
    ec2 = cloud.client("ec2", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (
        lambda: ec2.run_instances(
            MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": denied["LaunchTemplateId"]}
        ),
        lambda: ec2.delete_launch_template(LaunchTemplateId=denied["LaunchTemplateId"]),
        lambda: ec2.create_launch_template_version(
            LaunchTemplateName=denied["LaunchTemplateName"], LaunchTemplateData=SMALL
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("UnauthorizedOperation", 403)
    ran = ec2.run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": allowed["LaunchTemplateId"]}
    )
    ec2.terminate_instances(InstanceIds=[ran["Instances"][0]["InstanceId"]])
    ec2.modify_launch_template(LaunchTemplateId=allowed["LaunchTemplateId"], DefaultVersion="1")


def test_deleting_a_template_removes_its_tags(acct: Account) -> None:
    template = acct.ec2.create_launch_template(
        LaunchTemplateName=unique(),
        LaunchTemplateData=SMALL,
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "k", "Value": "v"}]}
        ],
    )["LaunchTemplate"]
    template_id = template["LaunchTemplateId"]
    acct.ec2.delete_launch_template(LaunchTemplateId=template_id)
    tags = acct.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [template_id]}])
    assert tags["Tags"] == []
