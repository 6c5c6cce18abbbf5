"""The resource dependency graph: references, creation levels, cycles, deletion order."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.cfn import graph, parse
from mallee.cfn.errors import TemplateError
from tests.unit.cfn import samples

pytestmark = pytest.mark.nodb


def resources(**definitions: dict[str, Any]) -> dict[str, Any]:
    return {"Parameters": {"P": {"Type": "String"}}, "Resources": definitions}


def test_seed_sample_group_before_instance() -> None:
    deps = graph.dependencies(parse.load(samples.SEED))
    assert deps == {"MySecurityGroup": set(), "MyInstance": {"MySecurityGroup"}}
    assert graph.order(deps) == [["MySecurityGroup"], ["MyInstance"]]
    assert graph.deletion_order(deps) == [["MyInstance"], ["MySecurityGroup"]]


def test_web_template_levels() -> None:
    deps = graph.dependencies(parse.load(samples.WEB))
    assert deps["LogBucketPolicy"] == {"LogBucket", "WebRole"}
    assert deps["WebConfig"] == {"WebGroup", "WebProfile", "ReadyHandle"}
    assert deps["Ready"] == {"ReadyHandle", "WebScaling"}
    assert deps["CpuHigh"] == {"ScaleUp", "WebScaling"}
    assert graph.order(deps) == [
        ["Balancer", "LogBucket", "ProdVolume", "ReadyHandle", "WebGroup", "WebRole"],
        ["LogBucketPolicy", "WebProfile"],
        ["WebConfig"],
        ["WebScaling"],
        ["Ready", "ScaleUp"],
        ["CpuHigh"],
    ]


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"Properties": {"X": {"Ref": "A"}}}, {"A"}),
        ({"Properties": {"X": {"Ref": "P"}}}, set()),
        ({"Properties": {"X": {"Ref": "AWS::Region"}}}, set()),
        ({"Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}}, {"A"}),
        ({"Properties": {"X": {"Fn::GetAtt": "A.Arn"}}}, {"A"}),
        ({"Properties": {"X": {"Fn::Sub": "${A}-${B.Arn}-${!C}-${AWS::Region}-${P}"}}}, {"A", "B"}),
        ({"Properties": {"X": {"Fn::Sub": ["${A}-${V}", {"V": {"Ref": "C"}}]}}}, {"A", "C"}),
        ({"Properties": {"X": {"Fn::Sub": ["${A}", {"A": "shadow"}]}}}, set()),
        ({"DependsOn": "A", "Properties": {}}, {"A"}),
        ({"DependsOn": ["A", "B"]}, {"A", "B"}),
        ({"Metadata": {"M": {"Ref": "C"}}}, {"C"}),
        ({"Properties": {"X": [{"Fn::Join": ["", [{"Ref": "A"}, {"Ref": "B"}]]}]}}, {"A", "B"}),
    ],
)
def test_references(definition: dict[str, Any], expected: set[str]) -> None:
    template = resources(
        A={"Type": "T"}, B={"Type": "T"}, C={"Type": "T"}, R={"Type": "T", **definition}
    )
    assert graph.dependencies(template)["R"] == expected


def test_active_set_leaves_out_skipped_resources() -> None:
    template = resources(
        A={"Type": "T"},
        B={"Type": "T", "Properties": {"X": {"Ref": "A"}}},
        C={"Type": "T", "Properties": {"X": {"Ref": "B"}}},
    )
    assert graph.dependencies(template, active={"B", "C"}) == {"B": set(), "C": {"B"}}


def test_conditions_follow_only_the_taken_branch() -> None:
    template = resources(
        A={"Type": "T"},
        B={"Type": "T"},
        R={"Type": "T", "Properties": {"X": {"Fn::If": ["C", {"Ref": "A"}, {"Ref": "B"}]}}},
    )
    assert graph.dependencies(template)["R"] == {"A", "B"}
    assert graph.dependencies(template, conditions={"C": True})["R"] == {"A"}
    assert graph.dependencies(template, conditions={"C": False})["R"] == {"B"}


@pytest.mark.parametrize(
    ("deps", "message"),
    [
        ({"A": {"B"}, "B": {"A"}}, "Circular dependency between resources: [A, B]"),
        ({"A": {"A"}}, "Circular dependency between resources: [A]"),
        (
            {"Z": set(), "A": {"C"}, "B": {"A"}, "C": {"B"}, "D": {"C"}},
            "Circular dependency between resources: [A, B, C, D]",
        ),
    ],
)
def test_cycles(deps: dict[str, set[str]], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        graph.order(deps)
    assert str(caught.value) == message


def test_self_reference_is_not_a_dependency_but_depends_on_cycle_is() -> None:
    template = resources(
        A={"Type": "T", "DependsOn": "B"},
        B={"Type": "T", "Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}},
    )
    with pytest.raises(TemplateError, match=r"Circular dependency between resources: \[A, B\]"):
        graph.order(graph.dependencies(template))


def test_independent_resources_share_one_level() -> None:
    template = resources(**{f"R{i}": {"Type": "T"} for i in range(50)})
    levels = graph.order(graph.dependencies(template))
    assert len(levels) == 1
    assert len(levels[0]) == 50


def test_dependents_reverse_the_graph() -> None:
    deps = {"A": set(), "B": {"A"}, "C": {"A", "B"}}
    assert graph.dependents(deps) == {"A": {"B", "C"}, "B": {"C"}, "C": set()}
    assert graph.deletion_order(deps) == [["C"], ["B"], ["A"]]


def test_depends_on_must_be_names() -> None:
    with pytest.raises(TemplateError, match="DependsOn must be a string or list of strings"):
        graph.depends_on({"DependsOn": {"Ref": "A"}})
