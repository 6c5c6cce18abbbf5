"""The generic protocol engine: one parser and one serializer per wire protocol.

Driven only by the service model; nothing service-specific lives here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.protocol.detect import detect_protocol


@dataclass(slots=True)
class ParsedRequest:
    operation: OperationModel
    params: dict[str, Any]


class RequestParser(ABC):
    protocol: str

    @abstractmethod
    def parse(self, request: HttpRequest, service: ServiceModel) -> ParsedRequest:
        """Find the operation and turn the request into botocore-shaped params.

        Raises ServiceError for unknown operations, malformed bodies, missing required members
        and wrong-typed values; never anything else.
        """


class ResponseSerializer(ABC):
    protocol: str

    @abstractmethod
    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> HttpResponse:
        """Turn a provider's result dict (botocore output shape) into the wire response."""

    @abstractmethod
    def serialize_error(
        self,
        error: ServiceError,
        service: ServiceModel,
        operation: OperationModel | None,
        request_id: str,
    ) -> HttpResponse:
        """An error in this protocol's format, which botocore turns into ClientError."""


def _parsers() -> dict[str, RequestParser]:
    from mallee.api.protocol.json_parser import CborRequestParser, JsonRequestParser
    from mallee.api.protocol.query_parser import Ec2RequestParser, QueryRequestParser
    from mallee.api.protocol.restxml_parser import RestXmlRequestParser

    found: list[RequestParser] = [
        QueryRequestParser(),
        Ec2RequestParser(),
        JsonRequestParser(),
        CborRequestParser(),
        RestXmlRequestParser(),
    ]
    return {parser.protocol: parser for parser in found}


def _serializers() -> dict[str, ResponseSerializer]:
    from mallee.api.protocol.json_serializer import (
        CborResponseSerializer,
        JsonResponseSerializer,
    )
    from mallee.api.protocol.query_serializer import (
        Ec2ResponseSerializer,
        QueryResponseSerializer,
    )
    from mallee.api.protocol.restxml_serializer import RestXmlResponseSerializer

    found: list[ResponseSerializer] = [
        QueryResponseSerializer(),
        Ec2ResponseSerializer(),
        JsonResponseSerializer(),
        CborResponseSerializer(),
        RestXmlResponseSerializer(),
    ]
    return {serializer.protocol: serializer for serializer in found}


# Filled on first use: the protocol modules import the ABCs above, so they load after them.
_PARSERS: dict[str, RequestParser] = {}
_SERIALIZERS: dict[str, ResponseSerializer] = {}


def parser_for(protocol: str) -> RequestParser:
    """The (stateless, shared) parser for a botocore protocol name."""
    if not _PARSERS:
        _PARSERS.update(_parsers())
    try:
        return _PARSERS[protocol]
    except KeyError:
        raise ValueError(f"no request parser for protocol {protocol!r}") from None


def serializer_for(protocol: str) -> ResponseSerializer:
    """The (stateless, shared) serializer for a botocore protocol name."""
    if not _SERIALIZERS:
        _SERIALIZERS.update(_serializers())
    try:
        return _SERIALIZERS[protocol]
    except KeyError:
        raise ValueError(f"no response serializer for protocol {protocol!r}") from None


__all__ = [
    "ParsedRequest",
    "RequestParser",
    "ResponseSerializer",
    "detect_protocol",
    "parser_for",
    "serializer_for",
]
