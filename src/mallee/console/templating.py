"""The console's pages as Jinja2 templates (in templates/, autoescaped, one base layout) and
the answers that carry them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse

# The console's pages are below this path on its own port (Settings.console_port), and so is
# its cookie: browsers do not keep cookies apart by port, and on the api port this path is
# only S3's (a bucket named "console"), which ignores cookies.
PREFIX = "/console"
HERE = Path(__file__).parent
STATIC = HERE / "static"
# Fetched by scripts/setup.sh; without it the pages work as plain forms and links.
HTMX = STATIC / "vendor" / "htmx.min.js"

NAV = (
    ("/", "Dashboard"),
    ("/instances", "Instances"),
    ("/images", "Images"),
    ("/volumes", "Volumes"),
    ("/snapshots", "Snapshots"),
    ("/keypairs", "Key pairs"),
    ("/security-groups", "Security groups"),
    ("/addresses", "Elastic IPs"),
    ("/load-balancers", "Load balancers"),
    ("/auto-scaling", "Auto Scaling"),
    ("/vpcs", "VPCs"),
    ("/buckets", "Buckets"),
    ("/alarms", "Alarms"),
    ("/dashboards", "Dashboards"),
)
IAM_NAV = (("/iam/users", "IAM"),)
ADMIN_NAV = (
    ("/admin/services", "Services"),
    ("/admin/nodes", "Nodes"),
    ("/admin/properties", "Properties"),
    ("/admin/accounts", "Accounts"),
    ("/admin/instance-types", "Instance types"),
)

# Every value is escaped, whatever the template's name: no page is built any other way.
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(
    prefix=PREFIX, NAV=NAV, IAM_NAV=IAM_NAV, ADMIN_NAV=ADMIN_NAV, htmx=HTMX.is_file()
)


def render(template: str, **values: Any) -> str:
    return ENV.get_template(template).render(**values)


def html(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **values), status_code=status)


def redirect(path: str) -> RedirectResponse:
    """303 See Other to a console path (after a POST, so reloading does not repeat it)."""
    return RedirectResponse(PREFIX + path, status_code=303)
