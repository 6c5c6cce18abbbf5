"""The console's Auto Scaling pages in a real browser (headless chromium): a launch
configuration made from its form, a group made from it, its desired capacity set, its
instances and activities seen as the engine launches them, a policy added, run and deleted,
and the group and launch configuration deleted again. Each page seen is saved as a screenshot
in the run's directory (pytest's basetemp, `screenshots*`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Login
from tests.browser.test_console_browser import Console
from tests.browser.test_console_elb import _button, _confirm, _note, _scroll_to
from tests.e2e.conftest import Cloud

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

GROUP_PAGE = "Auto Scaling group {}"


@pytest.fixture(scope="module")
def console(driver: Any, cloud: Cloud, screenshots: Path, member: Login) -> Console:
    at = Console(driver, cloud.console, screenshots)
    at.open("/login")
    form = at.form("/login")
    at.fill(form, account=member.account, user=member.user, password=member.password)
    at.submit(form)
    at.wait(lambda: at.driver.current_url.endswith("/console/"))
    return at


def _reloaded(console: Console, probe: Callable[[], bool]) -> bool:
    """What `probe` finds once the page is asked for again (the engine changes the group
    without anyone acting on the page)."""
    console.driver.refresh()
    return probe()


def test_a_group_made_scaled_by_hand_and_by_policy_and_deleted(console: Console) -> None:
    tag = uuid.uuid4().hex[:6]
    config, group, policy = f"lc-{tag}", f"asg-{tag}", f"scale-in-{tag}"
    console.click(console.find("header nav a[href='/console/auto-scaling']"))
    assert console.find("h1").text == "Auto Scaling groups"
    console.shot("auto-scaling")

    # A launch configuration: the first available image, m1.small.
    console.click(console.find("main a[href='/console/auto-scaling/launch-configurations']"))
    assert console.find("h1").text == "Launch configurations"
    form = console.form("/auto-scaling/launch-configurations/create")
    console.fill(form, name=config, type="m1.small")
    console.shot("launch-configuration-create")
    console.submit(form)
    _note(console, f"Created launch configuration {config}")
    row = console.find(f"#row-{config}")
    assert "m1.small" in row.text and "emi-" in row.text, row.text

    # A group of it: one zone chosen already; no instance until the capacity is set.
    console.open("/auto-scaling")
    form = console.form("/auto-scaling/groups/create")
    assert form.find_element("css selector", "input[type=checkbox][name^='zone:']").is_selected()
    console.fill(form, name=group, config=config, min="0", desired="0", max="3")
    console.shot("group-create")
    console.submit(form)
    _note(console, f"Created Auto Scaling group {group}")
    assert console.find("h1").text == GROUP_PAGE.format(group)
    assert console.find("#desired-capacity").text == "0"

    form = console.form("/auto-scaling/group/capacity")
    console.fill(form, desired="2")
    console.submit(form)
    _note(console, f"Set the desired capacity of {group} to 2")
    assert console.find("#desired-capacity").text == "2"
    # The engine launches them: two instance rows, and the launches as activities.
    console.wait(lambda: _reloaded(console, lambda: len(console.all("#instance-rows tr")) == 2))
    console.wait(
        lambda: _reloaded(
            console,
            lambda: any(
                "Launching a new EC2 instance" in row.text
                for row in console.all("#activity-rows tr")
            ),
        )
    )
    _scroll_to(console, "instances")
    console.shot("group-instances")

    # A policy that removes one instance, run by hand.
    form = console.form("/auto-scaling/policies/create")
    console.fill(form, policy=policy, adjustment_type="ChangeInCapacity", adjustment="-1")
    console.submit(form)
    note = _note(console, f"Saved policy {policy}")
    arn = note.split("(")[1].rstrip(")")
    assert arn.startswith("arn:aws:autoscaling:") and arn.endswith(f":policyName/{policy}")
    assert arn in console.find(f"#policy-{policy}").text
    _scroll_to(console, "policies")
    console.shot("group-policy")
    console.click(_button(console, "/auto-scaling/policies/execute", policy))
    _note(console, f"Ran policy {policy}")
    assert console.find("#desired-capacity").text == "1"

    _confirm(console, _button(console, "/auto-scaling/policies/delete", policy))
    _note(console, f"Deleted policy {policy}")
    assert not console.all(f"#policy-{policy}")

    # The group, with its instances; then its launch configuration is free to go.
    _confirm(console, _button(console, "/auto-scaling/groups/delete", group), "confirm-delete")
    _note(console, f"Deleting Auto Scaling group {group}")
    assert console.find("h1").text == "Auto Scaling groups"
    console.wait(lambda: _reloaded(console, lambda: not console.all(f"#row-{group}")))
    console.shot("group-deleted")
    console.open("/auto-scaling/launch-configurations")
    _confirm(console, _button(console, "/auto-scaling/launch-configurations/delete", config))
    _note(console, f"Deleted launch configuration {config}")
    assert not console.all(f"#row-{config}")
