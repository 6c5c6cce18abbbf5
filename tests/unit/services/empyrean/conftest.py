"""Fixtures for the Empyrean tests: a real store, the provider, and a botocore wire round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.api.protocol import parser_for, serializer_for
from mallee.config import Settings
from mallee.services.base import Runtime
from mallee.services.empyrean.provider import EmpyreanProvider
from mallee.store import Store

TIMEOUT = 30


@pytest.fixture
def provider(store: Store, tmp_path: Path) -> EmpyreanProvider:
    settings = Settings(data_dir=tmp_path, heartbeat_timeout=TIMEOUT)
    return EmpyreanProvider(Runtime(settings=settings, store=store))


def context(operation: str = "") -> RequestContext:
    model = load_service_model("empyrean")
    return RequestContext(
        request_id="req-1",
        service="empyrean",
        region="eucalyptus",
        http=HttpRequest("POST", "/", "", {}),
        operation=model.operation_model(operation) if operation else None,
    )


class Wire:
    """Calls the provider as a client would: botocore serializes, mallee's query parser parses,
    the provider answers, mallee's serializer writes XML and botocore parses it back."""

    def __init__(self, provider: EmpyreanProvider) -> None:
        self.provider = provider
        self.model = load_service_model("empyrean")

    def request_body(self, operation: str, params: dict[str, Any]) -> bytes:
        op = self.model.operation_model(operation)
        validate_parameters(params, op.input_shape)
        request = create_serializer("query").serialize_to_request(params, op)
        return urlencode(request["body"]).encode()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        op = self.model.operation_model(operation)
        http = HttpRequest(
            "POST",
            "/",
            "",
            {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
            self.request_body(operation, params),
        )
        serializer = serializer_for("query")
        try:
            parsed = parser_for("query").parse(http, self.model)
            ctx = context(operation)
            ctx.params = parsed.params
            function = self.provider.operations[operation]
            result = function(self.provider.runtime, ctx, parsed.params)
            response = serializer.serialize(op, result, "req-1")
        except ServiceError as err:
            response = serializer.serialize_error(err, self.model, op, "req-1")
        answer = create_parser("query").parse(
            {"status_code": response.status, "headers": response.headers, "body": response.body},
            op.output_shape,
        )
        if response.status >= 300:
            raise ClientError(answer, operation)
        answer.pop("ResponseMetadata", None)
        return dict(answer)


@pytest.fixture
def wire(provider: EmpyreanProvider) -> Wire:
    return Wire(provider)
