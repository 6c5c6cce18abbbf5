"""A chain over a real store, with the cloud admin's keys and the internal call wired as the
server wires it; requests signed as botocore signs them; answers parsed as botocore parses
them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV2Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.credentials import Credentials
from botocore.parsers import create_parser

from mallee.api.context import Principal
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.config import Settings
from mallee.gateway.chain import Chain
from mallee.gateway.internal import InternalCalls, wire
from mallee.identity.credentials import invalidate, lookup_credential
from mallee.services.base import Runtime
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from tests.unit.api.auth.helpers import from_botocore

Keys = tuple[str, str]
REGION = "eucalyptus"
FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
TENANT = "tenant"


@dataclass
class Gateway:
    store: Store
    chain: Chain
    calls: InternalCalls
    admin: Keys
    _tenant_root: Principal | None = field(default=None)

    def principal(self, keys: Keys) -> Principal:
        found = lookup_credential(self.store, keys[0])
        assert found is not None
        return found.principal

    @property
    def admin_principal(self) -> Principal:
        return self.principal(self.admin)

    def iam(self, operation: str, principal: Principal | None = None, **params: Any) -> Any:
        """The real IAM, called the way another service would call it."""
        return self.calls.call(
            "iam", operation, params, principal=principal or self.admin_principal
        )

    def tenant_root(self) -> Principal:
        """The root of an account of its own (not the cloud admin's: its callers get no
        administrator's pass)."""
        if self._tenant_root is None:
            self.iam("CreateAccount", AccountName=TENANT)
            key = self.iam("CreateAccessKey", DelegateAccount=TENANT)["AccessKey"]
            self._tenant_root = self.principal((key["AccessKeyId"], key["SecretAccessKey"]))
        return self._tenant_root

    def user(self, name: str, policy: dict[str, Any] | None = None) -> Keys:
        """A user of the tenant account with its keys and, when given, one inline policy."""
        root = self.tenant_root()
        self.iam("CreateUser", root, UserName=name)
        if policy is not None:
            document = json.dumps(policy)
            self.iam("PutUserPolicy", root, UserName=name, PolicyName="p", PolicyDocument=document)
        key = self.iam("CreateAccessKey", root, UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def allow(action: str, resource: str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


@pytest.fixture
def gateway(store: Store, tmp_path: Path) -> Iterator[Gateway]:
    invalidate()
    runtime = Runtime(settings=Settings(data_dir=tmp_path), store=store)
    chain = Chain(runtime)
    calls = wire(chain)
    yield Gateway(store, chain, calls, ensure_system_account(store))
    invalidate()


def form(action: str, version: str, **params: str) -> bytes:
    return urlencode({"Action": action, "Version": version, **params}).encode()


def signed(
    method: str,
    url: str,
    signing_name: str,
    keys: Keys,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    """The request as the server receives it from a client that signed it with SigV4."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(*keys), signing_name, REGION).add_auth(request)
    return from_botocore(request.prepare())


def signed_v2(url: str, keys: Keys, params: dict[str, str]) -> HttpRequest:
    """A query POST signed with SigV2, as Libcloud and euca2ools sign: nothing in it names
    the service but the API Version."""
    request = AWSRequest(method="POST", url=url, data=dict(params))
    SigV2Auth(Credentials(*keys)).add_auth(request)
    return from_botocore(request.prepare())


def unsigned(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> HttpRequest:
    return from_botocore(
        AWSRequest(method=method, url=url, data=body, headers=dict(headers or {})).prepare()
    )


def query_request(
    service: str, action: str, keys: Keys | None, host: str = "localhost", **params: str
) -> HttpRequest:
    """A query-protocol (or EC2) POST of `action` to `service`, signed with `keys` if any."""
    model = load_service_model(service)
    body = form(action, model.api_version, **params)
    url = f"http://{host}:8773/"
    if keys is None:
        return unsigned("POST", url, body, FORM)
    signing_name = str(model.metadata.get("signingName") or model.metadata["endpointPrefix"])
    return signed("POST", url, signing_name, keys, body, FORM)


def parsed(response: HttpResponse, service: str, operation: str) -> dict[str, Any]:
    """The answer as botocore reads it: an error answer gives {"Error": {"Code": ...}}."""
    model = load_service_model(service)
    answer: dict[str, Any] = create_parser(model.protocol).parse(
        {
            "status_code": response.status,
            "headers": HeadersDict(response.headers),
            "body": response.body,
        },
        model.operation_model(operation).output_shape,
    )
    return answer


def error_code(response: HttpResponse, service: str, operation: str) -> tuple[str, int]:
    answer = parsed(response, service, operation)
    return answer["Error"]["Code"], response.status
