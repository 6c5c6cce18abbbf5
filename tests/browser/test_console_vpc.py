"""The console's VPC pages in a real browser (headless chromium): a VPC made from the list,
then on its own page a subnet, an internet gateway made and attached, and a route to it, each
seen listed; the VPC refused deletion while it holds them (the API's DependencyViolation,
shown by the form), then all of it deleted again through the pages. Each page seen is saved
as a screenshot in the run's directory (pytest's basetemp, `screenshots*`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Login
from tests.browser.test_console_browser import Console
from tests.e2e.conftest import Cloud

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CIDR, SUBNET = "10.77.0.0/16", "10.77.1.0/24"


@pytest.fixture(scope="module")
def console(driver: Any, cloud: Cloud, screenshots: Path, member: Login) -> Console:
    at = Console(driver, cloud.console, screenshots)
    at.open("/login")
    form = at.form("/login")
    at.fill(form, account=member.account, user=member.user, password=member.password)
    at.submit(form)
    at.wait(lambda: at.driver.current_url.endswith("/console/"))
    return at


def _note(console: Console, starts: str) -> str:
    """The one success message starting with `starts`."""
    [note] = console.wait(lambda: [n for n in console.flashes("ok") if n.startswith(starts)])
    return str(note)


def _confirm(console: Console, button: Any, shot: str = "") -> None:
    console.click(button)
    assert console.find("h1").text == "Are you sure?"
    if shot:
        console.shot(shot)
    console.click(console.find("form button.danger"))


def _section(console: Console, heading: str) -> Any:
    return console.find(f"section[aria-labelledby={heading}]")


def _button(console: Console, action: str, value: str) -> Any:
    """The button of the `action` form that carries `value` among its fields."""
    form = console.find(f"form[action='/console{action}'] input[value='{value}']")
    return form.find_element("xpath", "./ancestor::form//button")


def test_a_vpc_with_a_subnet_a_gateway_and_a_route(console: Console) -> None:
    name = f"browser-{uuid.uuid4().hex[:6]}"
    console.click(console.find("header nav a[href='/console/vpcs']"))
    assert console.find("h1").text == "VPCs"
    # Every account has its default VPC.
    assert "yes" in console.find("#vpc-rows").text
    console.shot("vpcs")
    form = console.form("/vpcs/create")
    console.fill(form, cidr=CIDR, name=name)
    console.submit(form)
    vpc_id = _note(console, "Created VPC").split()[2]
    assert console.find("h1").text == f"VPC {vpc_id} ({name})"
    facts = console.find("section[aria-labelledby=facts]").text
    assert CIDR in facts and "available" in facts

    form = console.form("/vpcs/subnets/create")
    zones = [o.get_attribute("value") for o in form.find_elements("css selector", "option")]
    console.fill(form, cidr=SUBNET, name=f"{name}-a", zone=next(z for z in zones if z))
    console.submit(form)
    subnet_id = _note(console, "Created subnet").split()[2]
    row = console.find(f"#row-{subnet_id}")
    assert SUBNET in row.text and f"{name}-a" in row.text

    form = console.form("/vpcs/gateways/create")
    console.fill(form, name=f"{name}-igw")
    console.submit(form)
    gateway_id = _note(console, "Created internet gateway").split()[3].rstrip(",")
    assert "available" in console.find(f"#row-{gateway_id}").text

    form = console.form("/vpcs/routes/create")
    console.fill(form, destination="0.0.0.0/0", target=gateway_id)
    console.submit(form)
    _note(console, "Added the route 0.0.0.0/0")
    console.click(_button(console, "/vpcs/subnets/public-ip", subnet_id))
    _note(console, f"An instance launched in {subnet_id} now gets a public IP")
    assert "yes" in console.find(f"#row-{subnet_id}").text.split()
    console.shot("vpc-detail")
    routes = [r.text for r in console.all("tbody.routes tr")]
    assert any(CIDR in r and "local" in r and "active" in r for r in routes), routes
    assert any("0.0.0.0/0" in r and gateway_id in r and "active" in r for r in routes), routes
    tables = _section(console, "route-tables")
    console.driver.execute_script("arguments[0].scrollIntoView()", tables)
    console.shot("vpc-routes")

    # Listed with the rest.
    console.open("/vpcs")
    row = console.find(f"#row-{vpc_id}")
    assert CIDR in row.text and name in row.text and f"Name={name}" in row.text
    console.shot("vpcs-with-new")

    # Still holding a subnet and a gateway: refused, with the API's own words, by its button.
    _confirm(console, _button(console, "/vpcs/delete", vpc_id), "confirm-delete-vpc")
    [error] = console.all("section[aria-labelledby=list] .form-error")
    assert error.text.startswith("DependencyViolation:")
    console.shot("vpc-dependency-violation")

    console.open(f"/vpcs/detail?id={vpc_id}")
    _confirm(console, _button(console, "/vpcs/routes/delete", "0.0.0.0/0"))
    _note(console, "Deleted the route to 0.0.0.0/0")
    assert gateway_id not in console.find("tbody.routes").text
    _confirm(console, _button(console, "/vpcs/gateways/delete", gateway_id))
    _note(console, f"Detached and deleted internet gateway {gateway_id}")
    _confirm(console, _button(console, "/vpcs/subnets/delete", subnet_id))
    _note(console, f"Deleted subnet {subnet_id}")
    assert "No subnets." in _section(console, "subnets").text
    assert "No internet gateway" in _section(console, "gateways").text
    console.shot("vpc-emptied")
    _confirm(console, _button(console, "/vpcs/delete", vpc_id))
    _note(console, f"Deleted VPC {vpc_id}")
    assert console.find("h1").text == "VPCs"
    assert vpc_id not in console.find("main table").text
    console.shot("vpc-deleted")
