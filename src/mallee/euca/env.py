"""Endpoints and credentials, read the way euca2ools reads a sourced eucarc.

Each service has its own URL variable (EC2_URL, S3_URL, ...). When a command's variable is unset
but another service's is, the cloud is assumed to serve every API on the same host and port under
/services/<Name> (as `mallee api` does), so a partial eucarc still works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mallee.euca.errors import MISSING_CREDENTIALS, CommandError

DEFAULT_REGION = "eucalyptus"


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    # Variables naming this service's URL, first match wins.
    variables: tuple[str, ...]
    # Path under the cloud's base URL when only another service's URL is known.
    path: str


ENDPOINTS: dict[str, ServiceEndpoint] = {
    "ec2": ServiceEndpoint(("EC2_URL",), "/services/compute"),
    "s3": ServiceEndpoint(("S3_URL",), "/services/objectstorage"),
    "iam": ServiceEndpoint(("EUARE_URL", "AWS_IAM_URL"), "/services/Euare"),
    "sts": ServiceEndpoint(("TOKEN_URL", "AWS_STS_URL"), "/services/Tokens"),
    # Eucalyptus 4 named the service registry's URL EUCA_BOOTSTRAP_URL and the properties'
    # EUCA_PROPERTIES_URL; mallee serves both on one Empyrean endpoint.
    "empyrean": ServiceEndpoint(
        ("EUCA_BOOTSTRAP_URL", "EUCA_PROPERTIES_URL"), "/services/Empyrean"
    ),
    "elb": ServiceEndpoint(("AWS_ELB_URL",), "/services/LoadBalancing"),
    "cloudwatch": ServiceEndpoint(("AWS_CLOUDWATCH_URL",), "/services/CloudWatch"),
    "autoscaling": ServiceEndpoint(("AWS_AUTO_SCALING_URL",), "/services/AutoScaling"),
    "cloudformation": ServiceEndpoint(("AWS_CLOUDFORMATION_URL",), "/services/CloudFormation"),
}


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def endpoint_url(service: str, environ: Mapping[str, str], override: str | None = None) -> str:
    """The URL for `service`: -U, its own variable, or the base of any other known URL."""
    if override:
        return _checked(override, "-U/--url")
    spec = ENDPOINTS[service]
    own = _first(environ, *spec.variables)
    if own:
        return _checked(own, spec.variables[0])
    if base := _first(environ, "AWS_ENDPOINT_URL"):
        return _base(_checked(base, "AWS_ENDPOINT_URL")) + spec.path
    for other in ENDPOINTS.values():
        if found := _first(environ, *other.variables):
            return _base(_checked(found, other.variables[0])) + spec.path
    raise CommandError(
        f"no endpoint for {service}: source your eucarc (it sets {spec.variables[0]}) "
        "or give -U URL"
    )


def _checked(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"{source} is not an http(s) URL: {url!r}")
    return url


def credentials(
    environ: Mapping[str, str],
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
) -> Credentials:
    """Keys from -I/-S or the environment (AWS_* as euca2ools 3 reads them, EC2_* as 2 did)."""
    access = access_key or _first(environ, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "EC2_ACCESS_KEY")
    secret = secret_key or _first(
        environ, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "EC2_SECRET_KEY"
    )
    if not access or not secret:
        raise CommandError(MISSING_CREDENTIALS)
    token = session_token or _first(environ, "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    return Credentials(access, secret, token)


def region(environ: Mapping[str, str], override: str | None = None) -> str:
    # euca2ools accepts USER@REGION; only the region part means anything here.
    chosen = override or _first(environ, "AWS_DEFAULT_REGION", "EUCA_REGION") or DEFAULT_REGION
    return chosen.rpartition("@")[2] or DEFAULT_REGION
