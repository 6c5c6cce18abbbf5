"""A worker's HAProxy configuration from its load balancer's rows (config.py, desired.py)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mallee.node.lb.config import Paths, health_check, render
from mallee.node.lb.desired import Balancer, Listener, Policy, Registered, backends, next_change

pytestmark = pytest.mark.nodb

NOW = 1_000_000.0
PATHS = Paths(Path("/run/x.stats"), Path("/tmp/x.state"))
HTTP = Listener(80, "HTTP", 8080, "HTTP")
A = Registered("i-aaaa", "running", "10.1.1.10", "zone-a")
B = Registered("i-bbbb", "running", "10.1.2.10", "zone-b")


def lb(**fields: object) -> Balancer:
    base: dict[str, object] = {"id": "abc123", "listeners": (HTTP,), "registered": (A, B)}
    base.update(fields)
    return Balancer(**base)  # type: ignore[arg-type]


def text(balancer: Balancer, zone: str = "zone-a", certs: dict[str, Path] | None = None) -> str:
    return render(balancer, backends(balancer, zone, NOW), PATHS, certs).text


def section(config: str, name: str) -> list[str]:
    """The lines of one section (`frontend l80`, `backend b80`, `backend hc`)."""
    lines = config.splitlines()
    start = lines.index(name)
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        out.append(line.strip())
    return out


def test_http_listener_forwards_headers_and_tracks_the_health_backend() -> None:
    cfg = text(lb(cross_zone=True))
    front = section(cfg, "frontend l80")
    assert "mode http" in front and "bind :80" in front
    assert "option forwardfor" in front
    assert "http-request set-header X-Forwarded-Proto http" in front
    assert "http-request set-header X-Forwarded-Port 80" in front
    back = section(cfg, "backend b80")
    assert "server i-aaaa 10.1.1.10:8080 track hc/i-aaaa" in back
    assert "server i-bbbb 10.1.2.10:8080 track hc/i-bbbb" in back
    assert "stats socket /run/x.stats mode 600 level admin expose-fd listeners" in cfg


def test_without_cross_zone_only_the_workers_zone_is_served() -> None:
    assert backends(lb(), "zone-a", NOW)[0].instance_id == "i-aaaa"
    assert [b.instance_id for b in backends(lb(), "zone-b", NOW)] == ["i-bbbb"]
    assert [b.instance_id for b in backends(lb(cross_zone=True), "zone-b", NOW)] == [
        "i-aaaa",
        "i-bbbb",
    ]


def test_only_running_instances_with_an_address_are_back_ends() -> None:
    stopped = Registered("i-cccc", "stopped", "10.1.1.11", "zone-a")
    pending = Registered("i-dddd", "pending", None, "zone-a")
    chosen = backends(lb(registered=(A, stopped, pending)), "zone-a", NOW)
    assert [b.instance_id for b in chosen] == ["i-aaaa"]


def test_draining_back_end_gets_weight_zero_until_its_drain_ends() -> None:
    draining = Registered("i-cccc", "running", "10.1.1.11", "zone-a", drain_until=NOW + 30)
    done = Registered("i-dddd", "running", "10.1.1.12", "zone-a", drain_until=NOW - 1)
    balancer = lb(registered=(A, draining, done), draining_enabled=True, draining_timeout=30)
    cfg = text(balancer)
    back = section(cfg, "backend b80")
    assert "server i-cccc 10.1.1.11:8080 track hc/i-cccc weight 0" in back
    assert "server i-aaaa 10.1.1.10:8080 track hc/i-aaaa" in back
    assert not any("i-dddd" in line for line in cfg.splitlines())
    assert next_change(balancer, NOW) == NOW + 30
    # Old processes of a reload may finish draining connections.
    assert "hard-stop-after 65s" in cfg


def test_http_health_check_exactly_as_configured() -> None:
    cfg = text(
        lb(hc_target="HTTP:8081/health check", hc_interval=7, hc_timeout=3, hc_unhealthy=4,
           hc_healthy=6)
    )  # fmt: skip
    hc = section(cfg, "backend hc")
    assert "option httpchk GET /health%20check" in hc
    assert "http-check expect status 200" in hc
    assert "timeout check 3s" in hc
    assert "default-server inter 7s fall 4 rise 6" in hc
    assert "server i-aaaa 10.1.1.10:8081 check" in hc


def test_tcp_and_ssl_health_checks() -> None:
    hc = section(text(lb(hc_target="TCP:22")), "backend hc")
    assert not any("httpchk" in line for line in hc)
    assert "server i-aaaa 10.1.1.10:22 check" in hc
    ssl = section(text(lb(hc_target="SSL:443")), "backend hc")
    assert any(line.endswith("check-ssl verify none") for line in ssl)
    assert health_check("HTTPS:443/x") == health_check("HTTPS:443/x")
    assert health_check("HTTPS:443/x").path == "/x"
    with pytest.raises(ValueError):
        health_check("HTTP:80")


def test_unsafe_path_characters_cannot_escape_the_argument() -> None:
    hc = section(text(lb(hc_target="HTTP:80/a'b\"c#d$e")), "backend hc")
    assert "option httpchk GET /a%27b%22c%23d%24e" in hc


def test_lb_cookie_stickiness() -> None:
    policy = Policy("sticky", "LBCookieStickinessPolicyType", (("CookieExpirationPeriod", "60"),))
    listener = Listener(80, "HTTP", 8080, "HTTP", policy_names=("sticky",))
    cfg = text(lb(listeners=(listener,), policies={"sticky": policy}))
    back = section(cfg, "backend b80")
    assert "cookie AWSELB insert indirect nocache maxlife 60s" in back
    server = next(line for line in back if line.startswith("server i-aaaa"))
    assert " cookie " in server and "i-aaaa" not in server.split(" cookie ")[1]
    session = Policy("s", "LBCookieStickinessPolicyType", ())
    listener = Listener(80, "HTTP", 8080, "HTTP", policy_names=("s",))
    plain = section(text(lb(listeners=(listener,), policies={"s": session})), "backend b80")
    assert "cookie AWSELB insert indirect nocache" in plain


def test_app_cookie_stickiness_follows_the_application_cookie() -> None:
    policy = Policy("app", "AppCookieStickinessPolicyType", (("CookieName", "JSESSIONID"),))
    listener = Listener(80, "HTTP", 8080, "HTTP", policy_names=("app",))
    back = section(text(lb(listeners=(listener,), policies={"app": policy})), "backend b80")
    assert "cookie JSESSIONID prefix nocache" in back


def test_tcp_listener_with_proxy_protocol_on_its_instance_port() -> None:
    proxy = Policy("pp", "ProxyProtocolPolicyType", (("ProxyProtocol", "true"),))
    tcp = Listener(25, "TCP", 2525, "TCP")
    cfg = text(lb(listeners=(tcp,), policies={"pp": proxy}, backend_policies={2525: ("pp",)}))
    front = section(cfg, "frontend l25")
    assert "mode tcp" in front and not any("forwardfor" in line for line in front)
    back = section(cfg, "backend b25")
    assert "server i-aaaa 10.1.1.10:2525 track hc/i-aaaa send-proxy" in back
    other = text(lb(listeners=(tcp,), policies={"pp": proxy}, backend_policies={80: ("pp",)}))
    assert "send-proxy" not in other


def test_idle_timeout() -> None:
    cfg = text(lb(idle_timeout=17))
    defaults = section(cfg, "defaults")
    assert "timeout client 17s" in defaults and "timeout server 17s" in defaults


def test_https_and_ssl_listeners_need_their_certificate() -> None:
    arn = "arn:aws:iam::123456789012:server-certificate/web"
    https = Listener(443, "HTTPS", 8080, "HTTP", ssl_certificate_id=arn)
    ssl = Listener(465, "SSL", 25, "SSL", ssl_certificate_id=arn)
    balancer = lb(listeners=(https, ssl))
    missing = render(balancer, backends(balancer, "zone-a", NOW), PATHS, {})
    assert missing.skipped == (443, 465)
    assert "frontend l443" not in missing.text
    cfg = text(balancer, certs={arn: Path("/certs/web.pem")})
    assert "bind :443 ssl crt /certs/web.pem" in section(cfg, "frontend l443")
    assert "http-request set-header X-Forwarded-Proto https" in section(cfg, "frontend l443")
    assert "bind :465 ssl crt /certs/web.pem" in section(cfg, "frontend l465")
    back = section(cfg, "backend b465")
    assert "server i-aaaa 10.1.1.10:25 track hc/i-aaaa ssl verify none" in back


TLS12 = Policy(
    "tls12",
    "SSLNegotiationPolicyType",
    (("Protocol-TLSv1.2", "true"), ("Protocol-TLSv1", "false"),
     ("Server-Defined-Cipher-Order", "true"), ("ECDHE-RSA-AES128-GCM-SHA256", "true"),
     ("AES128-SHA", "false"), ("AES256-GCM-SHA384", "true")),
)  # fmt: skip
GAP = Policy(
    "gap",
    "SSLNegotiationPolicyType",
    (("Protocol-TLSv1", "true"), ("Protocol-TLSv1.2", "true"), ("AES128-SHA", "true")),
)


def test_an_ssl_negotiation_policy_sets_versions_ciphers_and_their_order() -> None:
    arn = "arn:aws:iam::123456789012:server-certificate/web"
    https = Listener(443, "HTTPS", 8080, "HTTP", ssl_certificate_id=arn, policy_names=("tls12",))
    ssl = Listener(465, "SSL", 25, "TCP", ssl_certificate_id=arn, policy_names=("gap",))
    balancer = lb(listeners=(https, ssl), policies={"tls12": TLS12, "gap": GAP})
    cfg = text(balancer, certs={arn: Path("/certs/web.pem")})
    assert (
        "bind :443 ssl crt /certs/web.pem ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2 "
        "ciphers ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384"
    ) in section(cfg, "frontend l443")
    # TLS 1.1 off between two that are on; the client's cipher order wins.
    assert (
        "bind :465 ssl crt /certs/web.pem ssl-min-ver TLSv1.0 ssl-max-ver TLSv1.2 no-tlsv11 "
        "ciphers AES128-SHA prefer-client-ciphers"
    ) in section(cfg, "frontend l465")


def test_bad_back_end_values_are_refused() -> None:
    bad = Registered("i-aa;x", "running", "10.1.1.10", "zone-a")
    balancer = lb(registered=(bad,))
    with pytest.raises(ValueError):
        render(balancer, backends(balancer, "zone-a", NOW), PATHS)


def _pem(tmp: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lb.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = tmp / "web.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_haproxy_accepts_every_listener_type(tmp_path: Path) -> None:
    arn = "arn:aws:iam::123456789012:server-certificate/web"
    policies = {
        "lbc": Policy("lbc", "LBCookieStickinessPolicyType", (("CookieExpirationPeriod", "60"),)),
        "app": Policy("app", "AppCookieStickinessPolicyType", (("CookieName", "SID"),)),
        "pp": Policy("pp", "ProxyProtocolPolicyType", (("ProxyProtocol", "true"),)),
        "tls12": TLS12,
    }
    listeners = (
        Listener(80, "HTTP", 8080, "HTTP", policy_names=("lbc",)),
        Listener(81, "HTTP", 8080, "HTTP", policy_names=("app",)),
        Listener(443, "HTTPS", 8443, "HTTPS", ssl_certificate_id=arn, policy_names=("tls12",)),
        Listener(25, "TCP", 2525, "TCP"),
        Listener(465, "SSL", 2525, "TCP", ssl_certificate_id=arn),
    )
    draining = Registered("i-cccc", "running", "10.1.1.11", "zone-a", drain_until=NOW + 5)
    balancer = lb(listeners=listeners, policies=policies, backend_policies={2525: ("pp",)},
                  registered=(A, B, draining), hc_target="HTTP:8080/ping", cross_zone=True,
                  draining_enabled=True)  # fmt: skip
    paths = Paths(tmp_path / "stats.sock", tmp_path / "state")
    rendered = render(balancer, backends(balancer, "zone-a", NOW), paths, {arn: _pem(tmp_path)})
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(rendered.text)
    done = subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + rendered.text
