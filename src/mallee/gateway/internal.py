"""The internal call: one part of the cloud asks a service for something as a given principal,
without HTTP, through the same checks as a request from outside.

The parameters are validated against the operation's input shape (botocore's validator, the
same rules a client's SDK applies), the principal is authorized by the service's policies and
the operation's function runs with the chain's retry of aborted transactions. Only operations
a provider lists in `internal_operations` are reserved to this path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from botocore.model import OperationNotFoundError
from botocore.validate import ParamValidator

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError, invalid_action
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.gateway import catalog
from mallee.gateway.chain import Chain
from mallee.services.base import Params, Result, Runtime
from mallee.store import Store

# AWS's service principals, as trust policies name them.
EC2_SERVICE = "ec2.amazonaws.com"


def service_principal(name: str) -> Principal:
    """A service of the cloud acting on its own behalf (ec2.amazonaws.com assumes instance
    roles): it belongs to no account, and only resource policies that name it allow it."""
    return Principal(account_id="", arn=name, user_id=name, kind="service", name=name)


class InternalCalls:
    """`runtime.calls` of every service in this process, and the node's way to STS."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._validator = ParamValidator()

    def call(self, service: str, operation: str, params: Params, *, principal: Principal) -> Result:
        spec = catalog.by_name().get(service)
        if spec is None:
            raise ServiceError("UnknownService", f"No service is named {service}", 404)
        model = load_service_model(spec.name)
        try:
            op = model.operation_model(operation)
        except OperationNotFoundError:
            raise invalid_action(operation) from None
        report = self._validator.validate(params, op.input_shape)
        if report.has_errors():
            raise ServiceError("ValidationError", report.generate_report(), 400)
        ctx = RequestContext(
            request_id=str(uuid.uuid4()),
            service=spec.name,
            region=self.chain.settings.region,
            http=HttpRequest("POST", "/", "", {}),
            principal=principal,
            operation=op,
            params=dict(params),
            protocol=model.protocol,
            internal=True,
        )
        return self.chain.dispatch(spec, ctx)


def wire(chain: Chain) -> InternalCalls:
    """The chain's services get the internal call as `runtime.calls`."""
    calls = InternalCalls(chain)
    chain.runtime.calls = calls
    return calls


def instance_role_assumer(store: Store, region: str) -> Callable[[str, str], Result | None]:
    """For the metadata server: (role ARN, instance id) -> STS's Credentials, asked as
    ec2.amazonaws.com; None where the role's trust policy does not allow EC2 (AWS then shows
    the instance AssumeRoleUnauthorizedAccess)."""
    calls = wire(Chain(Runtime(Settings(region=region), store)))
    ec2 = service_principal(EC2_SERVICE)

    def assume(role_arn: str, instance_id: str) -> Result | None:
        params = {"RoleArn": role_arn, "InstanceId": instance_id}
        try:
            answer = calls.call("sts", "AssumeRoleForInstance", params, principal=ec2)
        except ServiceError as err:
            if err.code == "AccessDenied":
                return None
            raise
        credentials: Result = answer["Credentials"]
        return credentials

    return assume
