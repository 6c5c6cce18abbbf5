"""The web console in a real browser (headless chromium): sign in, launch an instance and
watch it reach running without reloading, key pairs with their .pem, an object up and down,
a security-group rule, an XSS probe that must show as text, and signing out. Each page seen is
saved as a screenshot in the run's directory (pytest's basetemp, `screenshots*`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from tests.browser.conftest import Login
from tests.e2e.conftest import Cloud

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PROBE_SCRIPT = "<script>document.title='pwned';window.pwned=1</script>"
PROBE_URL = "javascript:window.pwned=2"


class Console:
    """The browser on the console's pages, saving a screenshot of each."""

    def __init__(self, driver: Any, origin: str, screenshots: Path) -> None:
        self.driver, self.base, self.screenshots = driver, origin + "/console", screenshots
        self.shots = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def shot(self, name: str) -> Path:
        self.shots += 1
        path = self.screenshots / f"{self.shots:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path

    def find(self, css: str) -> Any:
        from selenium.common.exceptions import NoSuchElementException
        from selenium.webdriver.common.by import By

        try:
            return self.driver.find_element(By.CSS_SELECTOR, css)
        except NoSuchElementException:
            # What the browser showed instead, kept beside the screenshots and in the failure.
            shown = self.shot("missing-" + "".join(c if c.isalnum() else "-" for c in css)[:40])
            body = self.driver.find_element(By.TAG_NAME, "body").text
            raise AssertionError(
                f"{css} not on {self.driver.current_url} (see {shown}):\n{body[:2000]}"
            ) from None

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def fill(self, form: Any, **values: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        for name, value in values.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)

    def submit(self, form: Any) -> None:
        from selenium.webdriver.common.by import By

        self.click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    def click(self, element: Any) -> None:
        """Click what leads to another page, and wait until the browser is on it (a slow
        answer must not leave the test reading the page it left)."""
        from selenium.common.exceptions import WebDriverException

        page = self.find("html")
        element.click()

        def left() -> bool:
            try:
                page.is_enabled()
            except WebDriverException:  # stale, or no longer in any document
                return True
            return False

        self.wait(left)

    def form(self, action: str) -> Any:
        return self.find(f'form[action="/console{action}"]')

    def wait(self, until: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = until()
            except StaleElementReferenceException:
                # htmx swapped the rows between finding an element and reading it.
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout}s: {until}")
            time.sleep(0.25)

    def flashes(self, kind: str) -> list[str]:
        return [e.text for e in self.all(f".flash.{kind}")]

    def no_script_ran(self) -> None:
        assert self.driver.execute_script("return window.pwned === undefined")
        assert self.driver.title != "pwned"


@pytest.fixture(scope="module")
def console(driver: Any, cloud: Cloud, screenshots: Path) -> Console:
    return Console(driver, cloud.console, screenshots)


def test_sign_in(console: Console, member: Login) -> None:
    console.open("/")
    assert console.driver.current_url.endswith("/console/login")
    console.shot("sign-in")
    form = console.form("/login")
    console.fill(form, account=member.account, user=member.user, password=member.password)
    console.submit(form)
    console.wait(lambda: console.driver.current_url.endswith("/console/"))
    assert f"{member.user}@{member.account}" in console.find("header").text
    assert console.find("h1").text == "Dashboard"
    console.shot("dashboard")


def _row(console: Console, instance_id: str) -> Any:
    return console.find(f"#row-{instance_id}")


def test_launch_watch_running_and_the_xss_probe(console: Console, cloud: Cloud) -> None:
    console.open("/instances")
    console.shot("instances-empty")
    launched = []
    for name in (PROBE_SCRIPT, PROBE_URL):
        console.open("/instances/launch")
        form = console.form("/instances/launch")
        console.fill(form, name=name, count="1")
        console.submit(form)
        [note] = console.wait(lambda: console.flashes("ok"))
        launched.append(note.removeprefix("Launched ").strip())
    # No reload from here on: htmx asks for the rows while an instance is on its way.
    console.driver.execute_script("window.stayed = true")
    console.shot("instances-pending")

    def running() -> bool:
        states = [_row(console, i).find_element("css selector", ".state").text for i in launched]
        return states == ["running", "running"]

    console.wait(running, timeout=120)
    assert console.driver.execute_script("return window.stayed === true"), "the page reloaded"
    console.shot("instances-running")
    # The probes are names shown as text: nothing ran, no link was made of them.
    names = [_row(console, i).find_elements("css selector", "td")[1].text for i in launched]
    assert names == [PROBE_SCRIPT, PROBE_URL]
    console.no_script_ran()
    assert not [
        a for a in console.all("a") if (a.get_attribute("href") or "").startswith("javascript:")
    ]
    # Sorted by a column heading, a plain link (descending: the second launched first).
    console.click(console.find("th a[href*='sort=id']"))
    console.click(console.find("th a[href*='sort=id']"))
    ids = [r.get_attribute("id").removeprefix("row-") for r in console.all("#instance-rows tr")]
    assert ids == sorted(ids, reverse=True)
    assert console.find("th[aria-sort=descending]").text.startswith("Id")
    console.shot("instances-sorted")
    for n, instance_id in enumerate(launched):
        button = _row(console, instance_id).find_element(
            "xpath", ".//form[.//input[@value='terminate']]//button"
        )
        console.click(button)
        # Asked first, on a page of its own (no script needed); then done.
        assert console.find("h1").text == "Are you sure?"
        if n == 0:
            console.shot("confirm-terminate")
        console.click(console.find("form button.danger"))
        console.wait(lambda: console.flashes("ok"))
    console.shot("instances-terminating")


def test_instance_details_and_tags(console: Console) -> None:
    console.open("/instances")
    console.click(console.find("#instance-rows tr td a"))
    assert console.find("h1").text.startswith("Instance i-")
    form = console.form("/instances/tags")
    console.fill(form, key="team", value="<b>web</b>")
    console.submit(form)
    assert any("team" in n for n in console.flashes("ok"))
    assert "<b>web</b>" in console.find("section[aria-labelledby=tags] table").text
    console.shot("instance-details")
    # A filter by the API's own Name tag, as a plain GET form.
    console.open("/instances")
    form = console.find("form.filter")
    console.fill(form, field="instance-id", value="no-such-instance")
    console.submit(form)
    assert "No instances match." in console.find("main").text
    console.shot("instances-filtered")


def test_key_pair_create_download_delete(console: Console, downloads: Path) -> None:
    name = f"key-{uuid.uuid4().hex[:6]}"
    console.open("/keypairs")
    form = console.form("/keypairs/create")
    console.fill(form, name=name)
    console.submit(form)
    assert "PRIVATE KEY" in console.find("pre").text
    console.shot("keypair-created")
    console.find("#download-key").click()
    pem = downloads / f"{name}.pem"
    console.wait(lambda: pem.exists() and pem.stat().st_size > 0)
    assert "PRIVATE KEY" in pem.read_text()
    console.open("/keypairs")
    row = console.find(f"form[action='/console/keypairs/delete'] input[value='{name}']")
    console.click(row.find_element("xpath", "./ancestor::form//button"))
    console.click(console.find("form button.danger"))
    assert f"Deleted key pair {name}" in console.flashes("ok")
    assert name not in console.find("main").text.replace(f"Deleted key pair {name}", "")
    console.shot("keypair-deleted")


def test_object_upload_and_download(console: Console, downloads: Path, tmp_path: Path) -> None:
    bucket = f"web-{uuid.uuid4().hex[:8]}"
    console.open("/buckets")
    form = console.form("/buckets/create")
    console.fill(form, bucket=bucket)
    console.submit(form)
    assert f"Created bucket {bucket}" in console.flashes("ok")
    console.shot("buckets")
    console.click(console.find(f"a[href*='bucket={bucket}']"))
    sent = tmp_path / "hello.bin"
    data = bytes(range(256)) * 512 + b"\r\n--tail\r\n"
    sent.write_bytes(data)
    console.find("input[type=file]").send_keys(str(sent))
    console.submit(console.form("/buckets/upload"))
    assert f"Uploaded hello.bin ({len(data)} bytes)" in console.flashes("ok")
    console.shot("bucket-objects")
    console.find("a[href*='/buckets/download']").click()
    got = downloads / "hello.bin"
    console.wait(lambda: got.exists() and got.stat().st_size == len(data))
    assert got.read_bytes() == data


def test_authorize_a_rule(console: Console) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    console.open("/security-groups")
    form = console.form("/security-groups/create")
    console.fill(form, name=name, description="from the browser")
    console.submit(form)
    [note] = console.flashes("ok")
    group_id = note.rsplit("(", 1)[1].rstrip(")")
    console.shot("security-groups")
    console.click(console.find(f"a[href*='id={group_id}']"))
    form = console.form("/security-groups/authorize")
    console.fill(form, protocol="tcp", cidr="10.9.0.0/16")
    console.fill(form, **{"from": "8080", "to": "8081"})
    console.submit(form)
    assert any("Authorized tcp 8080-8081" in n for n in console.flashes("ok"))
    section = console.find("section[aria-labelledby=ingress]")
    assert "8080-8081" in section.text and "10.9.0.0/16" in section.text
    form = console.form("/security-groups/authorize")
    console.fill(form, direction="egress", protocol="udp", cidr="10.8.0.0/16")
    console.fill(form, **{"from": "53", "to": "53"})
    console.submit(form)
    section = console.find("section[aria-labelledby=egress]")
    assert "udp" in section.text and "10.8.0.0/16" in section.text
    # A refusal shows as "Code: message" by the form that was sent.
    form = console.form("/security-groups/authorize")
    console.fill(form, protocol="tcp", cidr="10.9.0.0/16")
    console.fill(form, **{"from": "8080", "to": "8081"})
    console.submit(form)
    [error] = console.all("section[aria-labelledby=authorize] .form-error")
    assert error.text.startswith("InvalidPermission.Duplicate:")
    console.shot("security-group-rules")


def test_iam_user_with_a_key(console: Console) -> None:
    name = f"dev-{uuid.uuid4().hex[:6]}"
    console.open("/iam/users")
    form = console.form("/iam/create")
    console.fill(form, name=name)
    console.submit(form)
    assert console.find("h1").text == f"IAM user {name}"
    console.click(console.find("form[action='/console/iam/keys/create'] button"))
    assert console.find("#secret-access-key").text
    console.shot("iam-key-created")
    console.open("/iam/users")
    assert name in console.find("main table").text
    console.shot("iam-users")


def test_sign_out(console: Console) -> None:
    console.click(console.find("header form button"))
    console.wait(lambda: console.driver.current_url.endswith("/console/login"))
    assert "Signed out." in console.flashes("ok")
    console.shot("signed-out")
    console.open("/instances")
    assert console.driver.current_url.endswith("/console/login")
