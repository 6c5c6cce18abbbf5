"""The console's load balancer pages in a real browser (headless chromium): a load balancer
with an HTTP listener made from the list's form, seen listed with its DNS name, opened, a
running instance of the account registered (its health shown as DescribeInstanceHealth says
it), the health check changed, and the load balancer deleted again. Each page seen is saved as
a screenshot in the run's directory (pytest's basetemp, `screenshots*`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Login
from tests.browser.test_console_browser import Console
from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image, wait_state

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def console(driver: Any, cloud: Cloud, screenshots: Path, member: Login) -> Console:
    at = Console(driver, cloud.console, screenshots)
    at.open("/login")
    form = at.form("/login")
    at.fill(form, account=member.account, user=member.user, password=member.password)
    at.submit(form)
    at.wait(lambda: at.driver.current_url.endswith("/console/"))
    return at


@pytest.fixture(scope="module")
def instance(cloud: Cloud, member: Login) -> Iterator[str]:
    """A running (fake hypervisor) instance of the member's account."""
    ec2 = cloud.client("ec2", member.access_key, member.secret_key)
    made = ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1)
    instance_id = str(made["Instances"][0]["InstanceId"])
    wait_state(ec2, [instance_id], "running")
    yield instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])


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


def _button(console: Console, action: str, value: str) -> Any:
    """The button of the `action` form that carries `value` among its fields."""
    form = console.find(f"form[action='/console{action}'] input[value='{value}']")
    return form.find_element("xpath", "./ancestor::form//button")


def _scroll_to(console: Console, section: str) -> None:
    found = console.find(f"section[aria-labelledby={section}]")
    console.driver.execute_script("arguments[0].scrollIntoView()", found)


def test_a_load_balancer_made_registered_checked_and_deleted(
    console: Console, instance: str
) -> None:
    name = f"browser-{uuid.uuid4().hex[:6]}"
    console.click(console.find("header nav a[href='/console/load-balancers']"))
    assert console.find("h1").text == "Load balancers"
    console.shot("load-balancers")

    form = console.form("/load-balancers/create")
    # One zone is chosen already, and the first listener row is HTTP 80 -> 80.
    assert form.find_element("css selector", "input[type=checkbox][name^='zone:']").is_selected()
    console.fill(form, name=name, protocol1="HTTP", lb_port1="80", instance_port1="80")
    console.shot("load-balancer-create")
    console.submit(form)
    note = _note(console, f"Created load balancer {name}")
    dns = note.split("(")[1].rstrip(")")
    assert dns.startswith(f"{name}-") and ".elb." in dns
    assert console.find("h1").text == f"Load balancer {name}"
    assert console.find("#dns-name").text == dns
    listener = console.find("#listener-80").text
    assert "HTTP" in listener and "80" in listener

    # Listed with its DNS name.
    console.open("/load-balancers")
    row = console.find(f"#row-{name}")
    assert dns in row.text and "HTTP:80 -> HTTP:80" in row.text
    console.shot("load-balancers-with-new")
    console.click(row.find_element("css selector", "a"))
    assert console.find("h1").text == f"Load balancer {name}"

    # A running instance of the account, registered: its health as the API reports it.
    form = console.form("/load-balancers/instances/register")
    form.find_element("name", f"instance:{instance}").click()
    console.submit(form)
    _note(console, f"Registered {instance} with {name}")
    health = console.wait(lambda: console.find(f"#health-rows #row-{instance}").text)
    assert "InService" in health or "OutOfService" in health, health
    assert not console.all(f"input[name='instance:{instance}']")
    _scroll_to(console, "instances")
    console.shot("load-balancer-registered")

    form = console.form("/load-balancers/health-check")
    console.fill(
        form,
        protocol="HTTP",
        port="80",
        path="/health",
        interval="10",
        timeout="3",
        unhealthy="3",
        healthy="2",
    )
    console.submit(form)
    _note(console, f"Health check of {name}: HTTP:80/health")
    check = console.find("#health-check-now").text
    assert "HTTP:80/health" in check and "10 s" in check and "3 s" in check
    _scroll_to(console, "health-check")
    console.shot("load-balancer-health-check")

    _confirm(
        console,
        _button(console, "/load-balancers/delete", name),
        "confirm-delete-load-balancer",
    )
    _note(console, f"Deleted load balancer {name}")
    assert console.find("h1").text == "Load balancers"
    assert not console.all(f"#row-{name}")
    console.shot("load-balancer-deleted")
