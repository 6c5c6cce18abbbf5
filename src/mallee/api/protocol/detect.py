"""Which of a service's protocols a request speaks; the response goes back in the same one."""

from __future__ import annotations

from botocore.model import ServiceModel

from mallee.api.http import HttpRequest

CBOR = "smithy-rpc-v2-cbor"


def service_protocols(service: ServiceModel) -> list[str]:
    protocols = service.metadata.get("protocols")
    if protocols:
        return list(protocols)
    return [str(service.metadata.get("protocol", "query"))]


def detect_protocol(request: HttpRequest, service: ServiceModel) -> str:
    """CBOR (content type or smithy-protocol header) > json (X-Amz-Target) > query."""
    protocols = service_protocols(service)
    if len(protocols) == 1:
        return protocols[0]
    headers = request.headers
    if CBOR in protocols and (
        request.content_type == "application/cbor" or "smithy-protocol" in headers
    ):
        return CBOR
    if "json" in protocols and "x-amz-target" in headers:
        return "json"
    if "query" in protocols:
        return "query"
    return str(service.metadata.get("protocol", protocols[0]))
