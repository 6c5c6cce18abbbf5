"""Load balancers (classic ELB): the list (a page at a time, as DescribeLoadBalancers pages),
creating one with its zones and listeners, deleting one after asking. A load balancer's own
page is load_balancer_detail.py; what is changed on it is load_balancer_parts.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, api_page, listing
from mallee.console.pages.volumes import zones

PROTOCOLS = ("HTTP", "HTTPS", "TCP", "SSL")
# Listeners whose front end terminates TLS, and so need a server certificate.
SECURE = frozenset({"HTTPS", "SSL"})
# Rows of listeners the create form offers (a row without a load balancer port is unused).
LISTENER_ROWS = 3

COLUMNS = (
    Column("name", "Name"),
    Column("dns", "DNS name"),
    Column("scheme", "Scheme"),
    Column("zones", "Zones"),
    Column("listeners", "Listeners", sortable=False),
    Column("instances", "Instances"),
    Column("created", "Created"),
)
# DescribeLoadBalancers' only filter: whole names.
FILTERS = (("name", "Name (exact)"),)


def detail_path(name: str) -> str:
    return "/load-balancers/detail?" + urlencode({"name": name})


def listener_text(listener: dict[str, Any]) -> str:
    """A listener as one line: front end -> back end (HTTP:80 -> HTTP:8080)."""
    front = f"{listener.get('Protocol', '')}:{listener.get('LoadBalancerPort', '')}"
    back_protocol = listener.get("InstanceProtocol") or listener.get("Protocol", "")
    return f"{front} -> {back_protocol}:{listener.get('InstancePort', '')}"


def _row(lb: dict[str, Any]) -> dict[str, Any]:
    listeners = [d.get("Listener", {}) for d in lb.get("ListenerDescriptions", [])]
    return {
        "name": lb.get("LoadBalancerName", ""),
        "dns": lb.get("DNSName", ""),
        "scheme": lb.get("Scheme", ""),
        "zones": ", ".join(lb.get("AvailabilityZones", [])),
        "listeners": ", ".join(listener_text(x) for x in listeners),
        "instances": len(lb.get("Instances", [])),
        "created": lb.get("CreatedTime", ""),
    }


def load_balancers(ctx: Ctx) -> Response:
    lst = listing(ctx, "/load-balancers", COLUMNS, FILTERS)
    elb = ctx.client("elb")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"PageSize": paging["size"]}
        if "token" in paging:
            params["Marker"] = paging["token"]
        if lst.filtered:
            params["LoadBalancerNames"] = [lst.value]
        try:
            answer = elb.describe_load_balancers(**params)
        except ClientError as failed:
            # A name filter that matches nothing is an empty list, not an error.
            if lst.filtered and failed.response.get("Error", {}).get("Code") == (
                "LoadBalancerNotFound"
            ):
                return [], None
            raise
        rows = [_row(lb) for lb in answer.get("LoadBalancerDescriptions", [])]
        return rows, answer.get("NextMarker")

    lst = api_page(lst, fetch)
    return ctx.page(
        "load_balancers.html",
        "Load balancers",
        lst=lst,
        zones=zones(ctx.client("ec2")),
        protocols=PROTOCOLS,
        rows=range(1, LISTENER_ROWS + 1),
        certificates=certificates(ctx),
    )


def certificates(ctx: Ctx) -> list[tuple[str, str]]:
    """The account's IAM server certificates, for an HTTPS or SSL listener's choice."""
    iam = ctx.client("iam")
    found: list[tuple[str, str]] = []
    answer = iam.list_server_certificates()
    while True:
        for c in answer.get("ServerCertificateMetadataList", []):
            found.append((str(c["Arn"]), str(c.get("ServerCertificateName", c["Arn"]))))
        if not answer.get("IsTruncated"):
            return found
        answer = iam.list_server_certificates(Marker=answer["Marker"])


def _port(ctx: Ctx, name: str, what: str) -> int:
    text = ctx.arg(name)
    if not text.isdigit():
        raise BadRequest(f"the {what} must be a number (1 to 65535)")
    return int(text)


def listener(ctx: Ctx, suffix: str = "") -> dict[str, Any] | None:
    """The listener the form's fields ending in `suffix` give, or None when its row is unused
    (no load balancer port). What the API checks (ports' ranges, a certificate for HTTPS and
    SSL, protocols that agree) it refuses in its own words."""
    if not ctx.arg("lb_port" + suffix):
        return None
    protocol = ctx.arg("protocol" + suffix).upper()
    if protocol not in PROTOCOLS:
        raise BadRequest("choose the listener's protocol: " + ", ".join(PROTOCOLS))
    out: dict[str, Any] = {
        "Protocol": protocol,
        "LoadBalancerPort": _port(ctx, "lb_port" + suffix, "load balancer port"),
        "InstancePort": _port(ctx, "instance_port" + suffix, "instance port"),
    }
    back = ctx.arg("instance_protocol" + suffix).upper()
    if back:
        if back not in PROTOCOLS:
            raise BadRequest("choose the instance protocol: " + ", ".join(PROTOCOLS))
        out["InstanceProtocol"] = back
    certificate = ctx.arg("certificate" + suffix)
    if certificate and protocol in SECURE:
        out["SSLCertificateId"] = certificate
    return out


def chosen(ctx: Ctx, prefix: str) -> list[str]:
    """The values of the checked boxes named `prefix` + value (a form sends one value per
    name), in the form's order."""
    return [name[len(prefix) :] for name in ctx.form if name.startswith(prefix) and ctx.form[name]]


def create(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("give the load balancer's name")
    picked = chosen(ctx, "zone:")
    if not picked:
        raise BadRequest("choose at least one availability zone")
    listeners = [
        found for n in range(1, LISTENER_ROWS + 1) if (found := listener(ctx, str(n))) is not None
    ]
    if not listeners:
        raise BadRequest("give at least one listener (its load balancer port)")
    made = ctx.client("elb").create_load_balancer(
        LoadBalancerName=name, AvailabilityZones=picked, Listeners=listeners
    )
    ctx.ok(f"Created load balancer {name} ({made.get('DNSName', '')})")
    return ctx.back(detail_path(name))


def delete(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which load balancer?")
    asked = ctx.confirmed(f"Delete load balancer {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("elb").delete_load_balancer(LoadBalancerName=name)
    ctx.ok(f"Deleted load balancer {name}")
    # Its own page is gone: from there, to the list; from the list, to the same page of it.
    came_from = ctx.form.get("_back", "")
    return ctx.back("/load-balancers" if came_from.startswith("/load-balancers/detail") else None)


ROUTES = [
    Route("GET", "/load-balancers", load_balancers, "/load-balancers"),
    Route("POST", "/load-balancers/create", create, "/load-balancers"),
    Route("POST", "/load-balancers/delete", delete, "/load-balancers"),
]
