"""The request flow: route -> authenticate -> parse -> authorize -> dispatch -> serialize."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, ServiceModel
from sqlalchemy.exc import DBAPIError

from mallee.api import auth
from mallee.api.auth.common import PayloadReader
from mallee.api.content_encoding import decode_body
from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError, internal_error
from mallee.api.http import HttpRequest, HttpResponse
from mallee.api.models import load_service_model
from mallee.api.protocol import detect_protocol, parser_for, serializer_for
from mallee.api.protocol.header_values import sendable
from mallee.api.protocol.rest_routes import match
from mallee.api.protocol.restxml_parser import may_stream, streams_payload
from mallee.api.streams import VerifiedStream, read_all
from mallee.gateway.catalog import ServiceSpec
from mallee.gateway.routing import route, virtual_bucket
from mallee.identity.authz import Authorizer
from mallee.identity.credentials import lookup_credential
from mallee.services.base import Operation, Provider, Runtime
from mallee.store.db import retryable

log = logging.getLogger(__name__)

# A handler's transaction that the database aborted for a conflict (a deadlock) is run again
# up to this many times in all: handlers change state in one transaction, rolled back whole.
TRANSACTION_ATTEMPTS = 3


class Chain:
    """One per process; handles one request at a time per call, holds no per-request state."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.authorizer = Authorizer(runtime.store)
        self._providers: dict[str, Provider] = {}

    def _lookup(self, access_key_id: str) -> Any:
        return lookup_credential(self.runtime.store, access_key_id)

    def provider(self, spec: ServiceSpec) -> Provider:
        found = self._providers.get(spec.name)
        if found is None:
            found = self._providers[spec.name] = spec.provider(self.runtime)
        return found

    def routed(self, request: HttpRequest) -> tuple[HttpRequest, ServiceSpec] | None:
        """(routed copy of the request, its service), or None when no service claims it (then
        `handle` answers the routing error itself)."""
        probe = request.copy()
        try:
            spec = route(probe, self.settings.domain)
        except ServiceError:
            return None
        return probe, spec

    def streaming_route(self, request: HttpRequest) -> tuple[HttpRequest, ServiceSpec] | None:
        """(routed request, service) when the request is for a service that streams bodies."""
        found = self.routed(request)
        return found if found is not None and found[1].streaming else None

    def answers_at_once(self, request: HttpRequest, spec: ServiceSpec) -> bool:
        """Whether `handle` may run on the server's event loop for this (streamed-service)
        request."""
        return self.provider(spec).answers_at_once(request)

    def off_loop(self, request: HttpRequest, spec: ServiceSpec) -> bool:
        """Whether `handle` must run in a worker thread, not on the server's event loop, for
        this routed (not streamed) request: a write, or what the provider says must."""
        provider = self.provider(spec)
        if provider.off_loop(request):
            return True
        name = _operation_name(request)
        return name is not None and provider.writes(name)

    def handle(
        self,
        request: HttpRequest,
        *,
        refused: ServiceError | None = None,
        spec: ServiceSpec | None = None,
    ) -> HttpResponse:
        """The answer to `request`; `refused` is what the server found wrong while receiving
        it (a body too large or too slow), answered in the service's protocol."""
        request_id = str(uuid.uuid4())
        try:
            spec = spec or route(request, self.settings.domain)
        except ServiceError as err:
            return _fallback_error(err, request_id)
        # S3's `answer_unrouted` answers requests its model has no operation for (CORS
        # preflight, browser POST uploads); its `finish_response` adjusts every answer (CORS
        # headers). They see the request as received, a virtual-hosted bucket in its path.
        provider = self.provider(spec)
        early = self._early_context(request, request_id, spec) if provider.sees_unrouted else None
        answer_unrouted: Callable[[], HttpResponse | None] | None = None
        if early is not None:
            answer_unrouted = functools.partial(
                provider.answer_unrouted, early, functools.partial(self._admit, provider)
            )
        response = self._respond(request, request_id, spec, refused, answer_unrouted)
        if early is not None:
            try:
                provider.finish_response(early, response)
            except Exception:  # the answer itself stands; only its extra headers are lost
                log.exception("request %s: finishing the response failed", request_id)
        # Headers may echo stored values (metadata, CORS rules): none may break the header block.
        response.headers = sendable(response.headers)
        return response

    def _respond(
        self,
        request: HttpRequest,
        request_id: str,
        spec: ServiceSpec,
        refused: ServiceError | None,
        answer_unrouted: Callable[[], HttpResponse | None] | None,
    ) -> HttpResponse:
        model = load_service_model(spec.name)
        protocol = detect_protocol(request, model)
        serializer = serializer_for(protocol)
        operation: OperationModel | None = None
        try:
            if refused is not None:
                raise refused
            answer = answer_unrouted() if answer_unrouted is not None else None
            if answer is not None:
                return answer
            ctx = self._context(request, request_id, spec, model, protocol)
            operation = ctx.operation
            result = self.dispatch(spec, ctx)
            assert operation is not None
            return serializer.serialize(operation, result, request_id)
        except ServiceError as err:
            return serializer.serialize_error(err, model, operation, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return serializer.serialize_error(internal_error(), model, operation, request_id)

    def _early_context(
        self, request: HttpRequest, request_id: str, spec: ServiceSpec
    ) -> RequestContext:
        bucket = virtual_bucket(request, self.settings.domain) if spec.streaming else None
        path = f"/{bucket}{request.path}" if bucket is not None else request.path
        return RequestContext(
            request_id=request_id,
            service=spec.name,
            region=self.settings.region,
            http=dataclasses.replace(request, path=path),
        )

    def _context(
        self,
        request: HttpRequest,
        request_id: str,
        spec: ServiceSpec,
        model: ServiceModel,
        protocol: str,
    ) -> RequestContext:
        bucket = virtual_bucket(request, self.settings.domain) if spec.streaming else None
        authn = auth.authenticate(
            request,
            self._lookup,
            now=time.time(),
            skew=self.settings.clock_skew,
            style=spec.auth_style,
            verify_body=request.stream is None,
            virtual_bucket=bucket,
        )
        if bucket is not None:
            request.path = f"/{bucket}{request.path}"
        if request.stream is not None:
            self._prepare_body(request, model, authn.payload if authn else None)
        if not spec.streaming:
            decode_body(request, self.settings.max_body)
        parsed = parser_for(protocol).parse(request, model)
        ctx = RequestContext(
            request_id=request_id,
            service=spec.name,
            region=self.settings.region,
            http=request,
            operation=parsed.operation,
            params=parsed.params,
            protocol=protocol,
        )
        if authn is not None:
            ctx.principal = authn.credential.principal
        elif parsed.operation.name not in self.provider(spec).anonymous_operations:
            raise auth.missing_authentication(spec.auth_style)
        return ctx

    def _prepare_body(
        self, request: HttpRequest, model: ServiceModel, reader: PayloadReader | None
    ) -> None:
        """An upload keeps streaming (checked as read); any other body is read now, checked."""
        assert request.stream is not None
        length = request.headers.get("content-length")
        expected = int(length) if length and length.isdigit() else None
        verified = VerifiedStream(request.stream, reader, expected)
        if may_stream(model, request.method) and streams_payload(
            match(request, model).route.operation.input_shape
        ):
            request.stream = verified
            return
        request.body = read_all(verified, self.settings.max_body)
        request.stream = None

    def dispatch(self, spec: ServiceSpec, ctx: RequestContext) -> dict[str, Any]:
        """Authorize ctx's operation, then run it: for requests from outside and internal
        calls alike."""
        provider = self.provider(spec)
        operation = self._operation(provider, ctx)
        if operation is None:
            raise provider.unimplemented(ctx, functools.partial(self._admit, provider))
        self._admit(provider, ctx)
        return self.run(operation, ctx)

    def _operation(self, provider: Provider, ctx: RequestContext) -> Operation | None:
        name = ctx.operation_name
        if name in provider.internal_operations and not ctx.internal:
            return None
        return provider.operations.get(name)

    def run(self, operation: Operation, ctx: RequestContext) -> dict[str, Any]:
        """The operation's result; a transaction the database aborted for a conflict (a
        deadlock) runs again, unless its streamed body was read already."""
        for attempt in range(1, TRANSACTION_ATTEMPTS):
            try:
                return operation(self.runtime, ctx, ctx.params)
            except DBAPIError as err:
                if ctx.http.stream is not None or not retryable(err):
                    raise
                log.info("request %s: %s, running it again", ctx.request_id, err.orig)
                time.sleep(0.005 * attempt)
        return operation(self.runtime, ctx, ctx.params)

    def _admit(self, provider: Provider, ctx: RequestContext) -> None:
        """Authorize ctx's operation for its principal, then let the provider prepare it (also
        handed to `answer_unrouted`, which sets operation, params and principal itself)."""
        if ctx.principal.kind != "anonymous":
            self.authorizer.authorize(ctx, provider)
        provider.prepare(ctx)


def _operation_name(request: HttpRequest) -> str | None:
    """The operation a whole-bodied request names before it is parsed: the query protocols'
    Action, the JSON protocols' X-Amz-Target; None for anything else (answered at once)."""
    target = request.headers.get("x-amz-target")
    if target is not None:
        return target.rpartition(".")[2]
    if "smithy-protocol" in request.headers:  # rpc-v2-cbor: .../service/S/operation/O
        return request.path.rpartition("/operation/")[2] or None
    try:
        return request.form_params().get("Action")
    except UnicodeDecodeError:  # not a form any operation reads; the chain says so
        return None


def _fallback_error(err: ServiceError, request_id: str) -> HttpResponse:
    """An error for a request no service claimed: the query protocol's shape, understood widely."""
    from xml.sax.saxutils import escape

    body = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(err.code)}</Code>"
        f"<Message>{escape(err.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return HttpResponse(
        err.status,
        {"content-type": "text/xml", "x-amzn-requestid": request_id},
        body.encode(),
    )
