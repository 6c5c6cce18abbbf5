"""Which object of this cloud's S3 a TemplateURL names.

Only this cloud's S3 serves templates: its path-style URLs (the api endpoint, with or without
Eucalyptus' /services/objectstorage prefix, or any `s3.` host under the cloud's domain), its
virtual-hosted ones (`<bucket>.s3.<domain>`), and AWS's own S3 URLs
(`https://s3.amazonaws.com/bucket/key`, `https://bucket.s3.<region>.amazonaws.com/key`), which
templates written for AWS carry and which name the same bucket and key here. Anything else is
not a URL CloudFormation can read.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from mallee.config import Settings

# s3.amazonaws.com, s3-us-west-2.amazonaws.com, s3.eu-west-1.amazonaws.com,
# s3.dualstack.us-east-1.amazonaws.com; with "<bucket>." before them, virtual-hosted.
_AWS_S3 = r"s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?"
_AWS_PATH_HOST = re.compile(rf"^{_AWS_S3}$")
_AWS_VIRTUAL_HOST = re.compile(rf"^(?P<bucket>.+?)\.{_AWS_S3}$")
# Eucalyptus' path names of its object storage, as the gateway routes them.
_SERVICE_PREFIXES = ("/services/objectstorage/", "/services/walrus/")
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How this cloud's S3 is reached: the api server's address and the DNS domain."""

    host: str
    domain: str

    @classmethod
    def of(cls, settings: Settings) -> Endpoint:
        return cls(settings.host.lower(), settings.domain.lower())

    def serves_path_style(self, host: str) -> bool:
        if host == self.host or host == self.domain:
            return True
        # Listening on every address: any address literal may be how a client reaches us.
        if self.host in _WILDCARDS and _is_address(host):
            return True
        # The gateway routes every host whose first label under the domain is "s3" to S3.
        suffix = "." + self.domain
        return host.endswith(suffix) and host[: -len(suffix)].split(".", 1)[0] == "s3"

    def virtual_bucket(self, host: str) -> str | None:
        suffix = f".s3.{self.domain}"
        return host[: -len(suffix)] if host.endswith(suffix) and len(host) > len(suffix) else None


@dataclass(frozen=True, slots=True)
class ObjectLocation:
    bucket: str
    key: str
    version_id: str | None = None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def locate(url: str, endpoint: Endpoint) -> ObjectLocation | None:
    """The object `url` names in this cloud's S3, or None when it names none. The port is not
    compared: a proxy in front of the cloud may publish it on another."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    path = parts.path
    bucket = endpoint.virtual_bucket(host)
    if bucket is None:
        match = _AWS_VIRTUAL_HOST.match(host)
        if match is not None and not _AWS_PATH_HOST.match(host):
            bucket = match.group("bucket")
    if bucket is not None:
        key = path[1:]
    elif _AWS_PATH_HOST.match(host) or endpoint.serves_path_style(host):
        lowered = path.lower()
        for prefix in _SERVICE_PREFIXES:
            if lowered.startswith(prefix):
                path = path[len(prefix) - 1 :]
                break
        bucket, _, key = path[1:].partition("/")
    else:
        return None
    key = unquote(key)
    if not bucket or not key:
        return None
    versions = parse_qs(parts.query).get("versionId")
    return ObjectLocation(bucket, key, versions[0] if versions else None)
