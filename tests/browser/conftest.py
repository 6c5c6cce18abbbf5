"""A headless Debian chromium, driven through /usr/bin/chromedriver by Selenium, at a cloud's
web console; screenshots go to the test run's own directory."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass
class Login:
    account: str
    user: str
    password: str
    access_key: str
    secret_key: str


@pytest.fixture(scope="module")
def cloud(module_cloud: Cloud) -> Cloud:
    if not module_cloud.console:
        pytest.skip("no console origin known for this cloud (MALLEE_E2E_CONSOLE)")
    return module_cloud


@pytest.fixture(scope="module")
def member(cloud: Cloud) -> Login:
    """An IAM user with a console password, in a new ordinary account."""

    def iam(access_key: str, secret_key: str) -> Any:
        return mallee_client(
            "iam",
            cloud.endpoint + "/services/Euare",
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    admin = iam(cloud.admin.access_key, cloud.admin.secret_key)
    account = f"web{uuid.uuid4().hex[:8]}"
    admin.create_account(AccountName=account)
    key = admin.create_access_key(DelegateAccount=account)["AccessKey"]
    own = iam(key["AccessKeyId"], key["SecretAccessKey"])
    user, password = f"web-{uuid.uuid4().hex[:6]}", f"Pw-{uuid.uuid4().hex}"
    own.create_user(UserName=user)
    own.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=ALLOW_ALL)
    own.create_login_profile(UserName=user, Password=password)
    return Login(account, user, password, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def driver(downloads: Path) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container: chromium's sandbox needs user namespaces
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,900",
        f"--user-data-dir={downloads.parent / ('profile-' + uuid.uuid4().hex[:6])}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.set_page_load_timeout(60)
    # An element a loaded page holds may still be added by its scripts on a busy machine.
    browser.implicitly_wait(5)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(downloads.parent / "profile", ignore_errors=True)
