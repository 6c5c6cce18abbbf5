"""What ELB accepts as names, ports, listeners, health checks, attributes and tags: pure checks
that raise AWS's errors, used by every operation (and unit-tested on their own)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mallee.services.elb import errors

# AWS: at most 32 characters, letters, digits and hyphens, no hyphen first or last.
_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
PROTOCOLS = ("HTTP", "HTTPS", "TCP", "SSL")
SECURE = frozenset({"HTTPS", "SSL"})
# The layer of each protocol: a listener's two ends must be on the same one.
_LAYER = {"HTTP": "http", "HTTPS": "http", "TCP": "tcp", "SSL": "tcp"}
MAX_TAGS = 10
HC_LIMITS = {
    "Interval": (5, 300),
    "Timeout": (2, 60),
    "UnhealthyThreshold": (2, 10),
    "HealthyThreshold": (2, 10),
}


@dataclass(frozen=True, slots=True)
class Listener:
    lb_port: int
    protocol: str
    instance_port: int
    instance_protocol: str
    certificate: str


@dataclass(frozen=True, slots=True)
class HealthCheck:
    target: str
    interval: int
    timeout: int
    unhealthy: int
    healthy: int


def lb_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise errors.validation(
            "LoadBalancerName must contain only alphanumeric characters or hyphens, must not "
            "begin or end with a hyphen, and must be at most 32 characters long."
        )
    return value


def port(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise errors.validation(f"{field} must be between 1 and 65535: {value}")
    return value


def protocol(value: Any) -> str:
    text = str(value or "").upper()
    if text not in PROTOCOLS:
        raise errors.unsupported_protocol(
            f"Protocol {value!r} is not supported: use one of HTTP, HTTPS, TCP or SSL"
        )
    return text


def listener(raw: Any) -> Listener:
    if not isinstance(raw, dict):
        raise errors.validation("A listener needs Protocol, LoadBalancerPort and InstancePort.")
    front = protocol(raw.get("Protocol"))
    lb_port = port(raw.get("LoadBalancerPort"), "LoadBalancerPort")
    instance_port = port(raw.get("InstancePort"), "InstancePort")
    given = raw.get("InstanceProtocol")
    # AWS's default back end: HTTP behind HTTP and HTTPS, TCP behind TCP and SSL.
    back = protocol(given) if given else ("HTTP" if _LAYER[front] == "http" else "TCP")
    if _LAYER[back] != _LAYER[front]:
        raise errors.invalid_configuration(
            f"Listener protocol '{front}' and instance protocol '{back}' are not compatible"
        )
    certificate = str(raw.get("SSLCertificateId") or "")
    if front in SECURE and not certificate:
        raise errors.validation("Secure Listeners need to specify a SSLCertificateId")
    if front not in SECURE:
        certificate = ""
    return Listener(lb_port, front, instance_port, back, certificate)


def listeners(raw: Any) -> list[Listener]:
    items = [listener(r) for r in raw or []]
    if not items:
        raise errors.validation("Listeners cannot be empty")
    return items


def instance_protocols_agree(items: Iterable[Listener]) -> None:
    """AWS: listeners sharing an instance port are all secure to it, or all not."""
    secure: dict[int, bool] = {}
    for item in items:
        was = secure.setdefault(item.instance_port, item.instance_protocol in SECURE)
        if was != (item.instance_protocol in SECURE):
            raise errors.invalid_configuration(
                f"Listeners on instance port {item.instance_port} must all use a secure "
                "instance protocol (HTTPS, SSL) or all a plain one (HTTP, TCP)"
            )


def target(value: Any) -> str:
    """A health check target: HTTP:port/path, HTTPS:port/path, TCP:port or SSL:port."""
    text = str(value or "")
    kind, _, rest = text.partition(":")
    kind = kind.upper()
    if kind not in PROTOCOLS or not rest:
        raise errors.validation("HealthCheck Target must begin with one of HTTP, TCP, HTTPS, SSL")
    if len(text) > 1024:
        raise errors.validation("HealthCheck Target must be at most 1024 characters long")
    if kind in ("HTTP", "HTTPS"):
        digits, slash, path = rest.partition("/")
        if not slash or not digits.isdigit() or not 1 <= int(digits) <= 65535:
            raise errors.validation(
                f"HealthCheck {kind} Target must specify a port followed by a path that begins "
                f"with a slash. e.g. {kind}:80/ping/this/path"
            )
        return f"{kind}:{int(digits)}/{path}"
    if not rest.isdigit() or not 1 <= int(rest) <= 65535:
        raise errors.validation(f"HealthCheck {kind} Target must specify a port number")
    return f"{kind}:{int(rest)}"


def health_check(raw: Any) -> HealthCheck:
    if not isinstance(raw, dict):
        raise errors.validation("HealthCheck is required")
    values: dict[str, int] = {}
    for field, (low, high) in HC_LIMITS.items():
        value = raw.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise errors.validation(f"HealthCheck {field} must be between {low} and {high}")
        values[field] = value
    if values["Timeout"] >= values["Interval"]:
        raise errors.validation("HealthCheck Interval must be greater than the Timeout.")
    return HealthCheck(
        target(raw.get("Target")),
        values["Interval"],
        values["Timeout"],
        values["UnhealthyThreshold"],
        values["HealthyThreshold"],
    )


def tags(raw: Any) -> list[tuple[str, str]]:
    """Tag pairs as given, refusing a key given twice (DuplicateTagKeys)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in raw or []:
        key = str(item.get("Key") or "")
        if not key or len(key) > 128:
            raise errors.validation("A tag key must be 1 to 128 characters long")
        if key.lower().startswith("aws:"):
            raise errors.validation("Tag keys starting with 'aws:' are reserved for AWS")
        value = str(item.get("Value") or "")
        if len(value) > 256:
            raise errors.validation("A tag value must be at most 256 characters long")
        if key in seen:
            raise errors.duplicate_tag_keys(key)
        seen.add(key)
        out.append((key, value))
    if len(out) > MAX_TAGS:
        raise errors.too_many_tags(MAX_TAGS)
    return out


def bounded(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.validation(f"{field} must be between {low} and {high}")
    return value
