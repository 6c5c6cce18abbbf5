"""IAM/STS against a real SQLite store: requests go through authorization like the chain's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.validate import ParamValidator

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.identity.authz import Authorizer
from mallee.identity.credentials import invalidate, lookup_credential
from mallee.services.base import Provider, Runtime
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.services.iam.provider import IamProvider
from mallee.services.sts.provider import StsProvider
from mallee.store import Store


class Harness:
    def __init__(self, store: Store) -> None:
        self.store = store
        runtime = self.runtime = Runtime(settings=Settings(), store=store)
        self.providers: dict[str, Provider] = {
            "iam": IamProvider(runtime),
            "sts": StsProvider(runtime),
        }
        self.authorizer = Authorizer(store)
        self.admin = ensure_system_account(store)

    def call(
        self,
        service: str,
        op: str,
        params: dict[str, Any] | None = None,
        keys: tuple[str, str] | str | None = None,
        remote_addr: str = "127.0.0.1",
    ) -> dict[str, Any]:
        key_id = keys if isinstance(keys, str) else (keys or self.admin)[0]
        cred = lookup_credential(self.store, key_id)
        if cred is None:
            raise ServiceError("InvalidClientTokenId", "unknown key", 403)
        params = dict(params or {})
        model = load_service_model(service).operation_model(op)
        report = ParamValidator().validate(params, model.input_shape)
        assert not report.has_errors(), report.generate_report()
        provider = self.providers[service]
        ctx = RequestContext(
            request_id="test",
            service=service,
            region="eucalyptus",
            http=HttpRequest("POST", "/", "", {}, remote_addr=remote_addr),
            principal=cred.principal,
            operation=model,
            params=params,
            protocol="query",
        )
        self.authorizer.authorize(ctx, provider)
        result: dict[str, Any] = provider.operations[op](self.runtime, ctx, params)
        if model.output_shape is not None:
            report = ParamValidator().validate(result, model.output_shape)
            assert not report.has_errors(), report.generate_report()
        return result

    def iam(self, op: str, keys: Any = None, **params: Any) -> dict[str, Any]:
        return self.call("iam", op, params, keys)

    def sts(self, op: str, keys: Any = None, **params: Any) -> dict[str, Any]:
        return self.call("sts", op, params, keys)

    def new_account(self, name: str) -> tuple[str, tuple[str, str]]:
        """An account and its admin (root) keys, as the cloud admin makes them."""
        acct = self.iam("CreateAccount", AccountName=name)["Account"]["AccountId"]
        key = self.iam("CreateAccessKey", DelegateAccount=name)["AccessKey"]
        return acct, (key["AccessKeyId"], key["SecretAccessKey"])

    def new_user(
        self, root: tuple[str, str], name: str, policy: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        self.iam("CreateUser", root, UserName=name)
        if policy is not None:
            self.iam(
                "PutUserPolicy",
                root,
                UserName=name,
                PolicyName="p",
                PolicyDocument=json.dumps(policy),
            )
        key = self.iam("CreateAccessKey", root, UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def allow(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


@pytest.fixture
def h(store: Store) -> Iterator[Harness]:
    invalidate()
    yield Harness(store)


def code_of(exc: pytest.ExceptionInfo[ServiceError]) -> tuple[str, int]:
    return exc.value.code, exc.value.status
