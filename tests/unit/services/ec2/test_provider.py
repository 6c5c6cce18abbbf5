"""The EC2 provider's table: one function per model operation, named as the model names it."""

from __future__ import annotations

from botocore import xform_name

from mallee.api.models import load_service_model
from mallee.services.ec2.provider import Ec2Provider


def test_every_operation_is_a_model_operation_with_its_function() -> None:
    model = set(load_service_model("ec2").operation_names)
    assert Ec2Provider.operations
    for name, function in Ec2Provider.operations.items():
        assert name in model
        assert function.__name__ == xform_name(name)


def test_the_provider_has_no_operation_methods() -> None:
    # The chain's snake_case fallback must find nothing: every operation is in the table.
    for name in load_service_model("ec2").operation_names:
        assert not hasattr(Ec2Provider, xform_name(name))
