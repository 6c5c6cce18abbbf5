"""A worker's HAProxy configuration from its load balancer's desired state (a pure function).

Layout: one frontend `l<port>` and one backend `b<port>` per listener, and a backend `hc` that
holds the health check. Every back end is checked once, in `hc`, as the load balancer's
health check says; the listeners' servers `track` it, so N listeners do not check an instance
N times and the health one reads is the health every listener applies.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mallee.node.lb.desired import Backend, Balancer, Listener, Policy
from mallee.node.lb.log_format import frontend_lines
from mallee.node.network.names import check_instance_id

HEALTH_BACKEND = "hc"
LB_COOKIE = "LBCookieStickinessPolicyType"
APP_COOKIE = "AppCookieStickinessPolicyType"
PROXY_PROTOCOL = "ProxyProtocolPolicyType"
SSL_NEGOTIATION = "SSLNegotiationPolicyType"
_TARGET = re.compile(r"(HTTP|HTTPS):(\d{1,5})(/[^\r\n]*)|(TCP|SSL):(\d{1,5})")
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
# Characters a path keeps in HAProxy's configuration; the rest are percent-encoded, so a
# quote, `#`, `$` or space cannot end the argument or start a comment or a variable.
_PATH_SAFE = "/?&=%:@!()*+,;-._~"
CONNECT_TIMEOUT = 5
# An old process left by a reload finishes its connections for this long past the longest of
# the idle timeout and the draining timeout, then stops.
STOP_GRACE = 5


@dataclass(frozen=True, slots=True)
class Paths:
    stats_socket: Path
    server_state: Path
    # Where the access log goes, when the load balancer has it on.
    log_socket: Path | None = None


@dataclass(frozen=True, slots=True)
class HealthCheck:
    protocol: str  # HTTP | HTTPS | TCP | SSL
    port: int
    path: str  # "" for TCP and SSL


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    backends: tuple[Backend, ...]
    # Listeners left out: their certificate could not be had.
    skipped: tuple[int, ...] = ()


def health_check(target: str) -> HealthCheck:
    """`HTTP:80/path`, `HTTPS:443/path`, `TCP:22` or `SSL:443`."""
    found = _TARGET.fullmatch(target)
    if not found:
        raise ValueError(f"not a health check target: {target!r}")
    if found.group(1):
        return HealthCheck(found.group(1), int(found.group(2)), found.group(3))
    return HealthCheck(found.group(4), int(found.group(5)), "")


def render(
    lb: Balancer,
    backends: tuple[Backend, ...],
    paths: Paths,
    certs: Mapping[str, Path] | None = None,
) -> Rendered:
    certs = certs or {}
    for b in backends:
        check_instance_id(b.instance_id)
        ipaddress.IPv4Address(b.ip)
    drain = lb.draining_timeout if lb.draining_enabled else 0
    out = [
        "global",
        "    maxconn 4096",
        f"    stats socket {paths.stats_socket} mode 600 level admin expose-fd listeners",
        f"    server-state-file {paths.server_state}",
        f"    hard-stop-after {max(lb.idle_timeout, drain) + STOP_GRACE}s",
        "",
        "defaults",
        f"    timeout connect {CONNECT_TIMEOUT}s",
        f"    timeout client {lb.idle_timeout}s",
        f"    timeout server {lb.idle_timeout}s",
        "    load-server-state-from-file global",
    ]
    skipped = []
    for listener in sorted(lb.listeners, key=lambda x: x.lb_port):
        secure = listener.protocol in ("HTTPS", "SSL")
        pem = certs.get(listener.ssl_certificate_id) if secure else None
        if secure and pem is None:
            skipped.append(listener.lb_port)
            continue
        log = str(paths.log_socket) if lb.access_log and paths.log_socket else None
        out += _listener(lb, listener, backends, pem, log)
    out += _health(lb, backends)
    return Rendered("\n".join(out) + "\n", backends, tuple(skipped))


def _listener(
    lb: Balancer,
    listener: Listener,
    backends: tuple[Backend, ...],
    pem: Path | None,
    log: str | None = None,
) -> list[str]:
    http = listener.protocol in ("HTTP", "HTTPS")
    mode = "http" if http else "tcp"
    port = listener.lb_port
    bind = f"    bind :{port}" + (f" ssl crt {pem}{_negotiation(lb, listener)}" if pem else "")
    lines = ["", f"frontend l{port}", f"    mode {mode}", bind]
    lines += frontend_lines(log, http) if log else []
    if http:
        scheme = "https" if listener.protocol == "HTTPS" else "http"
        lines += [
            "    option forwardfor",
            # An idle keep-alive connection an old process holds after a reload is answered
            # once more (with Connection: close), not cut.
            "    option idle-close-on-response",
            f"    http-request set-header X-Forwarded-Proto {scheme}",
            f"    http-request set-header X-Forwarded-Port {port}",
        ]
    lines += [f"    default_backend b{port}", "", f"backend b{port}", f"    mode {mode}",
              "    balance roundrobin"]  # fmt: skip
    sticky = _stickiness(lb, listener) if http else None
    if sticky:
        lines.append(sticky)
    server_opts = []
    if listener.instance_protocol in ("HTTPS", "SSL"):
        server_opts.append("ssl verify none")
    if not http and _proxy_protocol(lb, listener.instance_port):
        server_opts.append("send-proxy")
    for b in backends:
        words = [f"    server {b.instance_id} {b.ip}:{listener.instance_port}",
                 f"track {HEALTH_BACKEND}/{b.instance_id}"]  # fmt: skip
        if sticky:
            words.append(f"cookie {_cookie_value(lb.id, b.instance_id)}")
        if b.draining:
            # No new requests; what it serves already finishes (connection draining).
            words.append("weight 0")
        lines.append(" ".join(words + server_opts))
    return lines


# SSLNegotiationPolicyType's protocol attributes -> HAProxy's names, oldest first.
_TLS_VERSIONS = (
    ("Protocol-SSLv3", "SSLv3", "no-sslv3"),
    ("Protocol-TLSv1", "TLSv1.0", "no-tlsv10"),
    ("Protocol-TLSv1.1", "TLSv1.1", "no-tlsv11"),
    ("Protocol-TLSv1.2", "TLSv1.2", "no-tlsv12"),
)
_CIPHER_NAME = re.compile(r"[A-Z0-9][A-Z0-9-]{0,63}")


def _negotiation(lb: Balancer, listener: Listener) -> str:
    """The bind options of the listener's SSLNegotiationPolicyType policy: the TLS versions it
    enables (classic ELB has no TLS 1.3), its ciphers in its order, and whose order wins; ""
    without one (HAProxy's defaults)."""
    policy = next(
        (p for p in _policies(lb, listener.policy_names) if p.type_name == SSL_NEGOTIATION), None
    )
    if policy is None:
        return ""
    on = {name for name, value in policy.attributes if value.lower() == "true"}
    enabled = [attr in on for attr, _, _ in _TLS_VERSIONS]
    if not any(enabled):
        return ""
    first, last = enabled.index(True), len(enabled) - 1 - enabled[::-1].index(True)
    words = [f"ssl-min-ver {_TLS_VERSIONS[first][1]}", f"ssl-max-ver {_TLS_VERSIONS[last][1]}"]
    # A version between the two that the policy leaves off.
    words += [flag for n, (_, _, flag) in enumerate(_TLS_VERSIONS) if first < n < last
              and not enabled[n]]  # fmt: skip
    # Cipher attributes are OpenSSL's upper-case names; the others have lower-case letters.
    ciphers = [n for n, _ in policy.attributes if n in on and _CIPHER_NAME.fullmatch(n)]
    if ciphers:
        words.append("ciphers " + ":".join(ciphers))
    if "Server-Defined-Cipher-Order" not in on:
        words.append("prefer-client-ciphers")
    return " " + " ".join(words)


def _policies(lb: Balancer, names: tuple[str, ...]) -> list[Policy]:
    return [lb.policies[n] for n in names if n in lb.policies]


def _stickiness(lb: Balancer, listener: Listener) -> str | None:
    for policy in _policies(lb, listener.policy_names):
        if policy.type_name == LB_COOKIE:
            period = policy.attribute("CookieExpirationPeriod")
            maxlife = f" maxlife {int(period)}s" if period and int(period) > 0 else ""
            return f"    cookie AWSELB insert indirect nocache{maxlife}"
        if policy.type_name == APP_COOKIE:
            name = policy.attribute("CookieName") or ""
            if _COOKIE_NAME.fullmatch(name):
                # The application's own cookie carries the server, prefixed to its value
                # and taken off again before the request reaches the instance.
                return f"    cookie {name} prefix nocache"
    return None


def _proxy_protocol(lb: Balancer, instance_port: int) -> bool:
    return any(
        p.type_name == PROXY_PROTOCOL and (p.attribute("ProxyProtocol") or "").lower() == "true"
        for p in _policies(lb, lb.backend_policies.get(instance_port, ()))
    )


def _cookie_value(lb_id: str, instance_id: str) -> str:
    """Opaque to clients: the cookie does not tell them the instance's id."""
    return hashlib.sha256(f"{lb_id}:{instance_id}".encode()).hexdigest()[:16]


def _health(lb: Balancer, backends: tuple[Backend, ...]) -> list[str]:
    hc = health_check(lb.hc_target)
    lines = ["", f"backend {HEALTH_BACKEND}", "    mode tcp"]
    if hc.path:
        lines += [
            f"    option httpchk GET {quote(hc.path, safe=_PATH_SAFE)}",
            "    http-check expect status 200",
        ]
    lines.append(f"    timeout check {lb.hc_timeout}s")
    ssl = " check-ssl verify none" if hc.protocol in ("HTTPS", "SSL") else ""
    lines.append(
        f"    default-server inter {lb.hc_interval}s fall {lb.hc_unhealthy} "
        f"rise {lb.hc_healthy}{ssl}"
    )
    lines += [f"    server {b.instance_id} {b.ip}:{hc.port} check" for b in backends]
    return lines
