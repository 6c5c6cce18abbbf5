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
