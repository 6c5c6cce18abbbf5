"""Which service a request is for: Eucalyptus path, then SigV4 credential scope, then Host,
then a query request's API Version."""

from __future__ import annotations

from mallee.api.auth import credential_scope
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.gateway import catalog
from mallee.gateway.catalog import ServiceSpec

_PREFIX = "/services/"


def _unknown(detail: str) -> ServiceError:
    return ServiceError("UnknownService", f"No service answers this request: {detail}", 404)


def _by_path(request: HttpRequest) -> ServiceSpec | None:
    """/services/<Name>[/rest]: strips the prefix so parsers see the service-relative path."""
    if not request.path.startswith(_PREFIX):
        return None
    name, slash, rest = request.path[len(_PREFIX) :].partition("/")
    spec = catalog.by_path_name().get(name.lower())
    if spec is None:
        raise _unknown(f"path /services/{name}")
    request.script_name = _PREFIX + name
    request.path = slash + rest if slash else "/"
    return spec


def _pick_version(specs: list[ServiceSpec], request: HttpRequest) -> ServiceSpec:
    if len(specs) == 1:
        return specs[0]
    version = request.form_params().get("Version", "")
    for spec in specs:
        if spec.api_version == version:
            return spec
    return specs[0]


def _by_scope(request: HttpRequest) -> ServiceSpec | None:
    scope = credential_scope(request)
    if scope is None:
        return None
    specs = catalog.by_signing_name().get(scope[3])
    return _pick_version(specs, request) if specs else None


def _by_host(request: HttpRequest, domain: str) -> ServiceSpec | None:
    if virtual_bucket(request, domain) is not None:
        return catalog.by_host_prefix().get("s3")
    host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
    if not host.endswith("." + domain):
        return None
    first = host[: -len(domain) - 1].split(".", 1)[0]
    return catalog.by_host_prefix().get(first)


def _by_version(request: HttpRequest) -> ServiceSpec | None:
    """A query request that names its service nowhere else (SigV2 at the root, as Libcloud's
    EC2 driver signs): the API Version it asks for is one service's."""
    try:
        params = request.form_params()
    except UnicodeDecodeError:
        return None
    if "Action" not in params:
        return None
    return catalog.by_query_version().get(params.get("Version", ""))


def _by_default(request: HttpRequest) -> ServiceSpec | None:
    """An unsigned request with no Action and no form POST: S3 (anonymous, path-style), the
    one API served at the root whose requests carry nothing else that names it."""
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        return None
    if any(name == "Action" for name, _ in request.query_params):
        return None
    return catalog.by_host_prefix().get("s3")


def route(request: HttpRequest, domain: str) -> ServiceSpec:
    spec = (
        _by_path(request)
        or _by_scope(request)
        or _by_host(request, domain)
        or _by_version(request)
        or _by_default(request)
    )
    if spec is None:
        raise _unknown(f"{request.method} {request.path}")
    return spec


def virtual_bucket(request: HttpRequest, domain: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 request: Host `<bucket>.s3.<domain>`."""
    host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
    suffix = f".s3.{domain}"
    if host.endswith(suffix) and len(host) > len(suffix):
        return host[: -len(suffix)]
    return None
