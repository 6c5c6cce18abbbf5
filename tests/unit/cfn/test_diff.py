"""UpdateStack's and change sets' resource changes: what is added, removed, modified in place
or replaced, and why, in DescribeChangeSet's ResourceChange shape."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.cfn.diff import (
    NO_UPDATES_MESSAGE,
    Action,
    AttributeChange,
    Change,
    ChangeSource,
    Evaluation,
    Recreation,
    Replacement,
    ResourceDecl,
    ResourceState,
    Scope,
    Unknown,
    changes,
    no_updates,
    replaced,
)

pytestmark = pytest.mark.nodb

INSTANCE = "AWS::EC2::Instance"
GROUP = "AWS::EC2::SecurityGroup"
BUCKET = "AWS::S3::Bucket"
ELB = "AWS::ElasticLoadBalancing::LoadBalancer"

WEB = {"ImageId": "emi-1", "InstanceType": "m1.small", "SecurityGroups": ["sg-web"]}


def state(kind: str = INSTANCE, physical: str = "i-1", /, **props: Any) -> ResourceState:
    return ResourceState(type=kind, properties=props or dict(WEB), physical_id=physical)


def decl(kind: str = INSTANCE, /, **props: Any) -> ResourceDecl:
    return ResourceDecl(type=kind, properties=props or dict(WEB))


def one(found: list[Change]) -> Change:
    assert len(found) == 1
    return found[0]


def test_identical_templates_have_no_updates() -> None:
    found = changes({"Web": state()}, {"Web": decl()})
    assert found == []
    assert no_updates(found)
    assert NO_UPDATES_MESSAGE == "No updates are to be performed."


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"Port": 80}, {"Port": "80"}),
        ({"Flag": True}, {"Flag": "true"}),
        ({"Flag": False}, {"Flag": "false"}),
        ({"Size": 8.0}, {"Size": "8"}),
        ({"List": [1, {"A": True}]}, {"List": ["1", {"A": "true"}]}),
    ],
)
def test_values_compare_as_the_strings_services_receive(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert (
        changes({"Web": ResourceState(INSTANCE, before)}, {"Web": ResourceDecl(INSTANCE, after)})
        == []
    )


@pytest.mark.parametrize(
    ("prop", "value", "replacement", "recreation"),
    [
        ("InstanceType", "m1.large", Replacement.FALSE, Recreation.NEVER),
        ("UserData", "IyEvYmluL3No", Replacement.FALSE, Recreation.NEVER),
        ("Monitoring", True, Replacement.FALSE, Recreation.NEVER),
        ("ImageId", "emi-2", Replacement.TRUE, Recreation.ALWAYS),
        ("KeyName", "other", Replacement.TRUE, Recreation.ALWAYS),
        ("SecurityGroups", ["sg-other"], Replacement.TRUE, Recreation.ALWAYS),
        ("BlockDeviceMappings", [], Replacement.CONDITIONAL, Recreation.CONDITIONALLY),
    ],
)
def test_one_property_changed(
    prop: str, value: Any, replacement: Replacement, recreation: Recreation
) -> None:
    change = one(changes({"Web": state()}, {"Web": decl(**{**WEB, prop: value})}))
    assert change.action is Action.MODIFY
    assert change.logical_id == "Web"
    assert change.physical_id == "i-1"
    assert change.resource_type == INSTANCE
    assert change.replacement is replacement
    assert change.scope == (Scope.PROPERTIES,)
    (detail,) = change.details
    assert detail.target.attribute is Scope.PROPERTIES
    assert detail.target.name == prop
    assert detail.target.requires_recreation is recreation
    assert detail.evaluation is Evaluation.STATIC
    assert detail.change_source is ChangeSource.DIRECT_MODIFICATION
    assert detail.causing_entity is None
    assert not no_updates([change])


def test_most_disruptive_change_decides_replacement() -> None:
    change = one(
        changes(
            {"Web": state()},
            {"Web": decl(**{**WEB, "InstanceType": "m1.large", "ImageId": "emi-2"})},
        )
    )
    assert change.replacement is Replacement.TRUE
    assert [d.target.name for d in change.details] == ["ImageId", "InstanceType"]
    assert change.policy_action == "ReplaceAndDelete"


@pytest.mark.parametrize(
    ("policy", "action"),
    [
        (None, "ReplaceAndDelete"),
        ("Retain", "ReplaceAndRetain"),
        ("Snapshot", "ReplaceAndSnapshot"),
    ],
)
def test_replacement_policy_action_follows_update_replace_policy(
    policy: str | None, action: str
) -> None:
    old = ResourceState(INSTANCE, dict(WEB), "i-1", update_replace_policy=policy)
    new = ResourceDecl(INSTANCE, {**WEB, "ImageId": "emi-2"}, update_replace_policy=policy)
    assert one(changes({"Web": old}, {"Web": new})).policy_action == action


def test_in_place_update_has_no_policy_action() -> None:
    change = one(changes({"Web": state()}, {"Web": decl(**{**WEB, "InstanceType": "m1.large"})}))
    assert change.policy_action is None


def test_property_added_and_removed() -> None:
    old = {"Web": state()}
    new = {"Web": decl(ImageId="emi-1", InstanceType="m1.small", Monitoring=True)}
    change = one(changes(old, new))
    by_name = {d.target.name: d.target.change_type for d in change.details}
    assert by_name == {"SecurityGroups": AttributeChange.REMOVE, "Monitoring": AttributeChange.ADD}
    assert change.replacement is Replacement.TRUE


@pytest.mark.parametrize(
    ("policy", "action"), [(None, "Delete"), ("Retain", "Retain"), ("Snapshot", "Snapshot")]
)
def test_removed_resource(policy: str | None, action: str) -> None:
    old = {
        "Web": state(),
        "Data": ResourceState(
            "AWS::EC2::Volume", {"AvailabilityZone": "one"}, "vol-1", deletion_policy=policy
        ),
    }
    change = one(changes(old, {"Web": decl()}))
    assert change.action is Action.REMOVE
    assert change.logical_id == "Data"
    assert change.physical_id == "vol-1"
    assert change.policy_action == action
    assert change.as_aws() == {
        "Action": "Remove",
        "LogicalResourceId": "Data",
        "PhysicalResourceId": "vol-1",
        "ResourceType": "AWS::EC2::Volume",
        "PolicyAction": action,
    }


def test_added_resources_come_after_the_rest_in_template_order() -> None:
    found = changes(
        {"Web": state(), "Old": state(BUCKET, "old-bucket", BucketName="old")},
        {
            "Logs": decl(BUCKET, BucketName="logs"),
            "Web": decl(**{**WEB, "InstanceType": "m1.large"}),
            "Assets": decl(BUCKET, BucketName="assets"),
        },
    )
    assert [(c.action, c.logical_id) for c in found] == [
        (Action.MODIFY, "Web"),
        (Action.REMOVE, "Old"),
        (Action.ADD, "Logs"),
        (Action.ADD, "Assets"),
    ]
    assert found[2].as_aws() == {
        "Action": "Add",
        "LogicalResourceId": "Logs",
        "ResourceType": BUCKET,
    }


def test_type_change_is_a_replacement() -> None:
    change = one(
        changes(
            {"Thing": ResourceState(BUCKET, {"Tags": []}, "b-1")},
            {"Thing": ResourceDecl(GROUP, {"GroupDescription": "now a group"})},
        )
    )
    assert change.action is Action.MODIFY
    assert change.resource_type == GROUP
    assert change.replacement is Replacement.TRUE
    assert all(d.target.requires_recreation is Recreation.ALWAYS for d in change.details)


def test_type_change_with_the_same_properties_is_still_a_replacement() -> None:
    props = {"Tags": [{"Key": "a", "Value": "b"}]}
    change = one(
        changes(
            {"Thing": ResourceState(BUCKET, props, "b-1")},
            {"Thing": ResourceDecl("AWS::EC2::Volume", props)},
        )
    )
    assert change.replacement is Replacement.TRUE
    (detail,) = change.details
    assert detail.target.name is None
    assert detail.target.requires_recreation is Recreation.ALWAYS


def test_parameter_caused_change_names_the_parameter() -> None:
    new = ResourceDecl(
        INSTANCE,
        {**WEB, "InstanceType": "m1.large"},
        parameters={"InstanceType": ["InstanceTypeParam"], "ImageId": ["ImageParam"]},
    )
    change = one(changes({"Web": state()}, {"Web": new}, changed_parameters={"InstanceTypeParam"}))
    (detail,) = change.details
    assert detail.change_source is ChangeSource.PARAMETER_REFERENCE
    assert detail.causing_entity == "InstanceTypeParam"
    assert detail.evaluation is Evaluation.STATIC


def test_change_without_a_changed_parameter_is_a_direct_modification() -> None:
    new = ResourceDecl(
        INSTANCE,
        {**WEB, "InstanceType": "m1.large"},
        parameters={"InstanceType": ["InstanceTypeParam"]},
    )
    change = one(changes({"Web": state()}, {"Web": new}, changed_parameters={"Other"}))
    assert change.details[0].change_source is ChangeSource.DIRECT_MODIFICATION


def _group_and_web(
    group_change: dict[str, Any], web_refs: dict[str, list[str]]
) -> tuple[dict[str, ResourceState], dict[str, ResourceDecl]]:
    old = {
        "Group": ResourceState(GROUP, {"GroupDescription": "web"}, "sg-web"),
        "Web": state(),
    }
    new = {
        "Group": ResourceDecl(GROUP, {"GroupDescription": "web", **group_change}),
        "Web": ResourceDecl(INSTANCE, dict(WEB), references=web_refs),
    }
    return old, new


def test_ref_to_a_replaced_resource_is_dynamic_and_conditional() -> None:
    old, new = _group_and_web({"GroupDescription": "web servers"}, {"SecurityGroups": ["Group"]})
    group, web = changes(old, new)
    assert group.replacement is Replacement.TRUE
    assert web.action is Action.MODIFY
    # SecurityGroups needs replacement, but whether it changes is known only at execution.
    assert web.replacement is Replacement.CONDITIONAL
    (detail,) = web.details
    assert detail.evaluation is Evaluation.DYNAMIC
    assert detail.change_source is ChangeSource.RESOURCE_REFERENCE
    assert detail.causing_entity == "Group"
    assert detail.target.requires_recreation is Recreation.ALWAYS
    assert replaced([group, web]) == ["Group", "Web"]


def test_ref_to_an_in_place_update_changes_nothing() -> None:
    old, new = _group_and_web(
        {"Tags": [{"Key": "tier", "Value": "web"}]}, {"SecurityGroups": ["Group"]}
    )
    (group,) = changes(old, new)
    assert group.logical_id == "Group"
    assert group.replacement is Replacement.FALSE


def test_getatt_of_a_modified_resource_is_dynamic() -> None:
    old, new = _group_and_web(
        {"Tags": [{"Key": "tier", "Value": "web"}]}, {"SecurityGroupIds": ["Group.GroupId"]}
    )
    group, web = changes(old, new)
    assert group.replacement is Replacement.FALSE
    (detail,) = web.details
    assert detail.change_source is ChangeSource.RESOURCE_ATTRIBUTE
    assert detail.causing_entity == "Group.GroupId"
    assert detail.target.requires_recreation is Recreation.NEVER
    assert web.replacement is Replacement.FALSE


def test_dynamic_changes_propagate_through_chains() -> None:
    # Group is replaced -> Web may be replaced (SecurityGroups) -> Address refers to Web.
    old, new = _group_and_web({"GroupDescription": "new"}, {"SecurityGroups": ["Group"]})
    old["Address"] = ResourceState("AWS::EC2::EIP", {"InstanceId": "i-1"}, "10.0.0.1")
    new["Address"] = ResourceDecl(
        "AWS::EC2::EIP", {"InstanceId": "i-1"}, references={"InstanceId": ["Web"]}
    )
    found = {c.logical_id: c for c in changes(old, new)}
    assert found["Web"].replacement is Replacement.CONDITIONAL
    address = found["Address"]
    assert address.replacement is Replacement.FALSE
    assert address.details[0].causing_entity == "Web"
    assert address.details[0].evaluation is Evaluation.DYNAMIC


def test_reference_to_an_added_resource_is_no_change_by_itself() -> None:
    old = {"Web": state()}
    new = {
        "Group": decl(GROUP, GroupDescription="web"),
        "Web": ResourceDecl(INSTANCE, dict(WEB), references={"SecurityGroups": ["Group"]}),
    }
    (added,) = changes(old, new)
    assert added.action is Action.ADD


def test_unknown_value_is_dynamic() -> None:
    new = decl(**{**WEB, "SecurityGroups": ["sg-admin", Unknown("Group")]})
    change = one(changes({"Web": state()}, {"Web": new}))
    (detail,) = change.details
    assert detail.evaluation is Evaluation.DYNAMIC
    assert detail.change_source is ChangeSource.RESOURCE_REFERENCE
    assert detail.causing_entity == "Group"
    assert change.replacement is Replacement.CONDITIONAL


def test_unknown_attribute_in_an_in_place_property() -> None:
    new = decl(**{**WEB, "Tags": [{"Key": "ip", "Value": Unknown("Address.AllocationId")}]})
    change = one(changes({"Web": state()}, {"Web": new}))
    (detail,) = change.details
    assert detail.change_source is ChangeSource.RESOURCE_ATTRIBUTE
    assert detail.target.change_type is AttributeChange.ADD
    assert change.replacement is Replacement.FALSE


@pytest.mark.parametrize(
    ("field", "before", "after", "scope"),
    [
        ("metadata", None, {"AWS::CloudFormation::Init": {}}, Scope.METADATA),
        ("metadata", {"a": 1}, {"a": 2}, Scope.METADATA),
        ("deletion_policy", None, "Retain", Scope.DELETION_POLICY),
        ("update_replace_policy", "Retain", None, Scope.UPDATE_REPLACE_POLICY),
        ("tags", {}, {"team": "web"}, Scope.TAGS),
    ],
)
def test_resource_attribute_scopes(field: str, before: Any, after: Any, scope: Scope) -> None:
    old = ResourceState(INSTANCE, dict(WEB), "i-1", **{field: before})
    new = ResourceDecl(INSTANCE, dict(WEB), **{field: after})
    change = one(changes({"Web": old}, {"Web": new}))
    assert change.scope == (scope,)
    assert change.replacement is Replacement.FALSE
    (detail,) = change.details
    assert detail.target.attribute is scope
    assert detail.target.name is None
    assert detail.target.requires_recreation is Recreation.NEVER
    assert detail.change_source is ChangeSource.DIRECT_MODIFICATION


def test_scopes_are_listed_once_in_aws_order() -> None:
    old = ResourceState(INSTANCE, dict(WEB), "i-1", metadata={"a": 1})
    new = ResourceDecl(
        INSTANCE,
        {**WEB, "InstanceType": "m1.large", "Monitoring": True},
        metadata={"a": 2},
        deletion_policy="Retain",
    )
    change = one(changes({"Web": old}, {"Web": new}))
    assert change.scope == (Scope.PROPERTIES, Scope.METADATA, Scope.DELETION_POLICY)


def test_conditional_property_gives_conditional_replacement() -> None:
    listeners = [{"LoadBalancerPort": "80", "InstancePort": "80", "Protocol": "HTTP"}]
    old = ResourceState(ELB, {"Listeners": listeners, "Subnets": ["s-1"]}, "lb")
    new = ResourceDecl(ELB, {"Listeners": listeners, "Subnets": ["s-1", "s-2"]})
    change = one(changes({"LB": old}, {"LB": new}))
    assert change.replacement is Replacement.CONDITIONAL
    assert change.details[0].target.requires_recreation is Recreation.CONDITIONALLY
    assert change.policy_action == "ReplaceAndDelete"


def test_modify_as_aws() -> None:
    new = ResourceDecl(
        INSTANCE, {**WEB, "InstanceType": "m1.large"}, parameters={"InstanceType": ["Size"]}
    )
    change = one(changes({"Web": state()}, {"Web": new}, changed_parameters=["Size"]))
    assert change.as_aws() == {
        "Action": "Modify",
        "LogicalResourceId": "Web",
        "PhysicalResourceId": "i-1",
        "ResourceType": INSTANCE,
        "Replacement": "False",
        "Scope": ["Properties"],
        "Details": [
            {
                "Target": {
                    "Attribute": "Properties",
                    "Name": "InstanceType",
                    "RequiresRecreation": "Never",
                    "Path": "/Properties/InstanceType",
                    "AttributeChangeType": "Modify",
                },
                "Evaluation": "Static",
                "ChangeSource": "ParameterReference",
                "CausingEntity": "Size",
            }
        ],
    }


def test_metadata_detail_as_aws_has_no_name() -> None:
    old = ResourceState(INSTANCE, dict(WEB), "i-1", metadata={"a": 1})
    new = ResourceDecl(INSTANCE, dict(WEB), metadata={"a": 2})
    (detail,) = one(changes({"Web": old}, {"Web": new})).as_aws()["Details"]
    assert detail["Target"] == {
        "Attribute": "Metadata",
        "RequiresRecreation": "Never",
        "Path": "/Metadata",
        "AttributeChangeType": "Modify",
    }


def test_no_updates_only_for_an_empty_list() -> None:
    assert no_updates([])
    assert not no_updates([Change(Action.ADD, "X", BUCKET)])


def test_long_chain_listed_backwards_is_followed_to_the_end() -> None:
    # R0 refers to R1 ... R49 refers to R50, which is replaced: every link may be replaced.
    old: dict[str, ResourceState] = {}
    new: dict[str, ResourceDecl] = {}
    for i in range(51):
        old[f"R{i}"] = state(INSTANCE, f"i-{i}")
        refs = {"SecurityGroups": [f"R{i + 1}"]} if i < 50 else {}
        image = "emi-1" if i < 50 else "emi-2"
        new[f"R{i}"] = ResourceDecl(INSTANCE, {**WEB, "ImageId": image}, references=refs)
    found = changes(old, new)
    assert [c.logical_id for c in found] == [f"R{i}" for i in range(51)]
    assert found[-1].replacement is Replacement.TRUE
    assert {c.replacement for c in found[:-1]} == {Replacement.CONDITIONAL}
    assert [c.details[0].causing_entity for c in found[:-1]] == [f"R{i + 1}" for i in range(50)]
