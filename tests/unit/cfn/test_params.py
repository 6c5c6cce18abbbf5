"""Stack parameters: defaults, types, constraints, account lookups, previous values."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.cfn import params, parse
from mallee.cfn.errors import TemplateError
from tests.unit.cfn import samples

pytestmark = pytest.mark.nodb


def declared(**specs: dict[str, Any]) -> dict[str, Any]:
    return {"Parameters": specs, "Resources": {}}


def test_seed_sample_takes_the_key_pair() -> None:
    account = samples.Account()
    values = params.resolve(parse.load(samples.SEED), {"KeyName": "demokey"}, account)
    assert values == {"KeyName": "demokey"}
    assert account.asked == [("key_pairs", {"demokey"})]


def test_seed_sample_refuses_a_missing_key_pair() -> None:
    with pytest.raises(TemplateError) as caught:
        params.resolve(parse.load(samples.SEED), {"KeyName": "nokey"}, samples.Account())
    assert str(caught.value) == (
        "Parameter validation failed: parameter value nokey for parameter name KeyName "
        "does not exist"
    )


def test_seed_sample_needs_the_key_name() -> None:
    with pytest.raises(TemplateError) as caught:
        params.resolve(parse.load(samples.SEED), {}, samples.Account())
    assert str(caught.value) == "Parameters: [KeyName] must have values"


def test_web_defaults_and_lists() -> None:
    values = params.resolve(parse.load(samples.WEB), {"KeyName": "demokey"}, samples.Account())
    assert values == {
        "KeyName": "demokey",
        "InstanceType": "m1.small",
        "Environment": "test",
        "Capacity": "2",
        "AdminCidr": "10.0.0.0/8",
        "DbPassword": "secret123",
        "Zones": [],
    }


def test_missing_names_listed_together() -> None:
    template = declared(
        A={"Type": "String"}, B={"Type": "Number"}, C={"Type": "String", "Default": ""}
    )
    with pytest.raises(TemplateError) as caught:
        params.resolve(template, {}, samples.Account())
    assert str(caught.value) == "Parameters: [A, B] must have values"


def test_unknown_given_parameter_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        params.resolve(declared(A={"Type": "String"}), {"A": "x", "Zed": "y"}, samples.Account())
    assert str(caught.value) == "Parameters: [Zed] do not exist in the template"


ONE = "P"


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ({"Type": "Number"}, "ten", "Parameter 'P' must be a number"),
        ({"Type": "Number"}, "", "Parameter 'P' must be a number"),
        ({"Type": "Number", "MinValue": 2}, "1", "Parameter 'P' must be a number not less than 2"),
        (
            {"Type": "Number", "MaxValue": "10"},
            "10.5",
            "Parameter 'P' must be a number not greater than 10",
        ),
        (
            {"Type": "String", "MinLength": 3},
            "ab",
            "Parameter 'P' must contain at least 3 characters",
        ),
        (
            {"Type": "String", "MaxLength": 3},
            "abcd",
            "Parameter 'P' must contain at most 3 characters",
        ),
        (
            {"Type": "String", "AllowedPattern": "[a-z]+"},
            "ab1",
            "Parameter 'P' must match pattern [a-z]+",
        ),
        (
            {"Type": "String", "AllowedValues": ["a", "b"]},
            "c",
            "Parameter 'P' must be one of AllowedValues",
        ),
        (
            {"Type": "String", "AllowedValues": ["a"], "ConstraintDescription": "pick a"},
            "c",
            "Parameter 'P' failed to satisfy constraint: pick a",
        ),
        (
            {"Type": "List<Number>"},
            "1,x,3",
            "Parameter 'P' must be a number",
        ),
        (
            {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]},
            "a, c",
            "Parameter 'P' must be one of AllowedValues",
        ),
        (
            {"Type": "List<AWS::EC2::SecurityGroup::Id>"},
            "sg-11111111,sg-99999999",
            "Parameter validation failed: parameter value sg-99999999 for parameter name P "
            "does not exist",
        ),
        (
            {"Type": "AWS::EC2::Subnet::Id"},
            "subnet-0",
            "Parameter validation failed: parameter value subnet-0 for parameter name P "
            "does not exist",
        ),
        (
            {"Type": "AWS::EC2::AvailabilityZone::Name"},
            "three",
            "Parameter validation failed: parameter value three for parameter name P "
            "does not exist",
        ),
    ],
)
def test_constraint_failures(spec: dict[str, Any], value: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        params.resolve(declared(P=spec), {ONE: value}, samples.Account())
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"Type": "Number", "MinValue": 1, "MaxValue": 10}, "10", "10"),
        ({"Type": "Number"}, "-1.5e3", "-1.5e3"),
        ({"Type": "String", "MinLength": 0}, "", ""),
        ({"Type": "String", "AllowedValues": [1, 2]}, "2", "2"),
        ({"Type": "String", "AllowedPattern": "[a-z]+"}, "abc", "abc"),
        ({"Type": "CommaDelimitedList"}, "a, b ,c", ["a", "b", "c"]),
        ({"Type": "List<Number>", "MaxValue": 5}, "1,2", ["1", "2"]),
        ({"Type": "List<AWS::EC2::AvailabilityZone::Name>"}, "one,two", ["one", "two"]),
        ({"Type": "AWS::EC2::Image::Id"}, "emi-3b5ad3a2", "emi-3b5ad3a2"),
        ({"Type": "AWS::EC2::Instance::Id"}, "i-11111111", "i-11111111"),
        ({"Type": "AWS::EC2::VPC::Id"}, "vpc-11111111", "vpc-11111111"),
        ({"Type": "AWS::EC2::Volume::Id"}, "vol-11111111", "vol-11111111"),
        ({"Type": "List<AWS::EC2::Subnet::Id>"}, "subnet-11111111", ["subnet-11111111"]),
    ],
)
def test_accepted_values(spec: dict[str, Any], value: str, expected: Any) -> None:
    assert params.resolve(declared(P=spec), {ONE: value}, samples.Account()) == {"P": expected}


def test_default_is_checked_like_a_given_value() -> None:
    template = declared(P={"Type": "String", "Default": "zz", "AllowedValues": ["a"]})
    with pytest.raises(TemplateError, match="must be one of AllowedValues"):
        params.resolve(template, {}, samples.Account())


def test_lookups_batched_per_kind() -> None:
    account = samples.Account()
    template = declared(
        A={"Type": "AWS::EC2::SecurityGroup::Id"},
        B={"Type": "List<AWS::EC2::SecurityGroup::Id>"},
    )
    params.resolve(template, {"A": "sg-11111111", "B": "sg-11111111,sg-22222222"}, account)
    assert account.asked == [("security_groups", {"sg-11111111", "sg-22222222"})]


def test_use_previous_value() -> None:
    template = declared(A={"Type": "String"}, B={"Type": "String", "Default": "d"})
    values = params.resolve(
        template, {}, samples.Account(), previous={"A": "old", "B": "older"}, use_previous={"A"}
    )
    assert values == {"A": "old", "B": "d"}


def test_use_previous_for_a_new_parameter_refused() -> None:
    template = declared(A={"Type": "String"})
    with pytest.raises(TemplateError) as caught:
        params.resolve(template, {}, samples.Account(), previous={}, use_previous={"A"})
    assert str(caught.value) == (
        "Invalid input for parameter key A. Cannot specify usePreviousValue as true for a "
        "parameter key not in the previous template"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"Type": "AWS::SSM::Parameter::Value<String>"},
            "Template format error: Unrecognized parameter type: "
            "AWS::SSM::Parameter::Value<String>",
        ),
        ({"Type": "Strin"}, "Template format error: Unrecognized parameter type: Strin"),
        (
            {"Type": "String", "Typo": 1},
            "Template format error: Invalid template parameter property 'Typo'",
        ),
    ],
)
def test_bad_declarations(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        params.declarations(declared(P=spec))
    assert str(caught.value) == message


def test_parameter_names_alphanumeric() -> None:
    with pytest.raises(TemplateError) as caught:
        params.declarations(declared(**{"my-param": {"Type": "String"}}))
    assert (
        str(caught.value) == "Template format error: Parameter name my-param is non alphanumeric."
    )


def test_masked_hides_no_echo() -> None:
    template = parse.load(samples.WEB)
    values = params.resolve(template, {"KeyName": "demokey", "Zones": "one,two"}, samples.Account())
    shown = params.masked(template, values)
    assert shown["DbPassword"] == params.NO_ECHO_MASK == "****"
    assert shown["Zones"] == "one,two"
    assert shown["KeyName"] == "demokey"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"Type": "String", "MinLength": "few"},
            "Template format error: MinLength of parameter P must be a number",
        ),
        (
            {"Type": "Number", "MaxValue": "lots"},
            "Template format error: MaxValue of parameter P must be a number",
        ),
        (
            {"Type": "String", "AllowedPattern": "[unclosed"},
            "Template format error: AllowedPattern of parameter P is not a valid regular "
            "expression",
        ),
        (
            {"Type": "String", "AllowedValues": "a,b"},
            "Template format error: Every AllowedValues of parameter P must be a list",
        ),
    ],
)
def test_unusable_constraints(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        params.declarations(declared(P=spec))
    assert str(caught.value) == message
