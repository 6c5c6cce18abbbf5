"""Password sign-in, sessions and what temporary credentials may do, probed as an attacker would
against a live cloud: guessing passwords through STS GetAccessToken and through the console
form (from several source addresses: every 127.0.0.0/8 address reaches the loopback server),
timing sign-ins for users that do not exist, the api's latency while passwords are hashed,
GetSessionToken credentials minting a permanent key through IAM, bad input in console forms, and
a console cookie copied before sign-out."""

from __future__ import annotations

import base64
import functools
import http.client
import http.cookiejar
import json
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from defusedxml import ElementTree

from mallee.api.models.client import mallee_client
from mallee.services.sts import sign_in_throttle
from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_sources = iter(range(10, 250))


def fresh_source() -> str:
    """A loopback address no other test signs in from: each test's attempts count apart."""
    return f"127.0.0.{next(_sources)}"


@dataclass
class Account:
    name: str
    id: str
    iam: Any

    def user(self, password: str | None = None, policy: str | None = ALLOW_ALL) -> str:
        name = f"u-{uuid.uuid4().hex[:8]}"
        self.iam.create_user(UserName=name)
        if policy is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        if password is not None:
            self.iam.create_login_profile(UserName=name, Password=password)
        return name


def _iam(cloud: Cloud, access_key: str, secret_key: str, token: str | None = None) -> Any:
    return mallee_client(
        "iam",
        cloud.endpoint + "/services/Euare",
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
    )


@pytest.fixture(scope="module")
def account(cloud: Cloud) -> Account:
    admin = _iam(cloud, cloud.admin.access_key, cloud.admin.secret_key)
    name = f"signin{uuid.uuid4().hex[:8]}"
    made = admin.create_account(AccountName=name)["Account"]
    key = admin.create_access_key(DelegateAccount=name)["AccessKey"]
    return Account(name, made["AccountId"], _iam(cloud, key["AccessKeyId"], key["SecretAccessKey"]))


def password() -> str:
    return f"Pw-{uuid.uuid4().hex}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Answer:
    status: int
    code: str | None
    message: str
    doc: Any


def sign_in(
    cloud: Cloud,
    account: str,
    user: str,
    secret: str,
    source: str,
    headers: dict[str, str] | None = None,
) -> Answer:
    """GetAccessToken over a connection from `source`."""
    url = urllib.parse.urlsplit(cloud.endpoint)
    conn = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=30, source_address=(source, 0)
    )
    basic = _b64(f"{_b64(user)}@{_b64(account)}:{_b64(secret)}")
    try:
        conn.request(
            "POST",
            "/services/Tokens",
            body="Action=GetAccessToken&Version=2011-06-15",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                **(headers or {}),
            },
        )
        reply = conn.getresponse()
        doc = ElementTree.fromstring(reply.read())
    finally:
        conn.close()
    return Answer(
        reply.status, doc.findtext(".//{*}Code"), doc.findtext(".//{*}Message") or "", doc
    )


def keys_of(answer: Answer) -> tuple[str, str, str]:
    found = [answer.doc.findtext(f".//{{*}}{n}") for n in ("AccessKeyId", "SecretAccessKey")]
    token = answer.doc.findtext(".//{*}SessionToken")
    assert found[0] and found[1] and token, answer.message
    return found[0], found[1], token


# --- 5: guessing passwords -----------------------------------------------------------------


def test_guessing_a_password_locks_the_user_out_for_a_while(cloud: Cloud, account: Account) -> None:
    right = password()
    user = account.user(right)
    guesser = fresh_source()
    for n in range(sign_in_throttle.USER_LIMIT):
        answer = sign_in(cloud, account.name, user, f"guess-{n}", guesser)
        assert (answer.status, answer.code) == (403, "AccessDenied")
    # Locked: the right password is refused too, from any address, without saying whether
    # it was right.
    for source in (guesser, fresh_source()):
        answer = sign_in(cloud, account.name, user, right, source)
        assert (answer.status, answer.code) == (403, "AccessDenied")
        assert "Too many failed sign-in attempts" in answer.message
    # By account id too: naming the account another way does not buy more guesses.
    answer = sign_in(cloud, account.id, user.upper(), right, fresh_source())
    assert "Too many failed sign-in attempts" in answer.message
    # Temporary: once the lock has passed, the right password works (and starts afresh).
    time.sleep(sign_in_throttle.FIRST_LOCK + 0.5)
    assert sign_in(cloud, account.name, user, right, guesser).status == 200
    assert sign_in(cloud, account.name, user, "wrong", guesser).code == "AccessDenied"
    assert sign_in(cloud, account.name, user, right, guesser).status == 200


def test_spraying_many_users_from_one_address_locks_the_address(
    cloud: Cloud, account: Account
) -> None:
    right = password()
    user = account.user(right)
    sprayer = fresh_source()
    for n in range(sign_in_throttle.SOURCE_LIMIT):
        answer = sign_in(cloud, account.name, f"nobody-{n}", right, sprayer)
        assert (answer.status, answer.code) == (403, "AccessDenied")
    answer = sign_in(cloud, account.name, user, right, sprayer)
    assert "Too many failed sign-in attempts" in answer.message
    # A header naming another address is worth nothing unless the console vouches for it.
    forged = {"X-Mallee-Sign-In-Source": f"{fresh_source()} {'0' * 64}"}
    answer = sign_in(cloud, account.name, user, right, sprayer, forged)
    assert "Too many failed sign-in attempts" in answer.message
    # The user is not locked: from elsewhere, they sign in.
    assert sign_in(cloud, account.name, user, right, fresh_source()).status == 200


def _timed(cloud: Cloud, account: str, user: str, source: str) -> float:
    start = time.perf_counter()
    answer = sign_in(cloud, account, user, "Wrong-password-1", source)
    elapsed = time.perf_counter() - start
    assert (answer.status, answer.code) == (403, "AccessDenied")
    return elapsed


def test_unknown_users_take_as_long_as_known_ones(cloud: Cloud, account: Account) -> None:
    users = [account.user(password()) for _ in range(3)]
    known, unknown, no_account = [], [], []
    for round_ in range(3):
        for user in users:
            known.append(_timed(cloud, account.name, user, fresh_source()))
            unknown.append(_timed(cloud, account.name, f"ghost-{round_}-{user}", fresh_source()))
            no_account.append(_timed(cloud, f"ghost{round_}{account.name}", user, fresh_source()))
    # Before: 3 ms for an unknown user against 79 ms for a known one (the scrypt hash).
    slow = statistics.median(known)
    assert statistics.median(unknown) > slow / 2, (known, unknown)
    assert statistics.median(no_account) > slow / 2, (known, no_account)


def test_hashing_passwords_does_not_stall_the_api(cloud: Cloud, account: Account) -> None:
    """Sign-ins hash in worker threads: /healthz keeps answering while eight guessers run.
    (Before, each hash held the event loop and /healthz waited behind the queued ones, 314 ms;
    no time is asserted here, the answers are.)"""
    done = threading.Event()

    def guess(source: str) -> None:
        n = 0
        while not done.is_set() and n < sign_in_throttle.SOURCE_LIMIT - 1:
            sign_in(cloud, account.name, f"ghost-{source}-{n}", "Wrong-password-1", source)
            n += 1

    guessers = [threading.Thread(target=guess, args=(fresh_source(),)) for _ in range(8)]
    for t in guessers:
        t.start()
    try:
        time.sleep(0.3)
        for _ in range(20):
            with urllib.request.urlopen(cloud.endpoint + "/healthz", timeout=10) as r:
                assert r.status == 200
            time.sleep(0.02)
    finally:
        done.set()
        for t in guessers:
            t.join()


def test_sign_in_requests_run_off_the_event_loop(cloud: Cloud) -> None:
    """What keeps /healthz answering: sign-ins (and every write) run in worker threads."""
    from mallee.api.http import HttpRequest
    from mallee.config import Settings
    from mallee.gateway.chain import Chain
    from mallee.services.base import Runtime
    from mallee.store import Store

    settings = Settings()
    chain = Chain(Runtime(settings=settings, store=Store("sqlite://")))
    body = b"Action=GetAccessToken&Version=2011-06-15"
    request = HttpRequest(
        "POST",
        "/services/Tokens",
        "",
        {"content-type": "application/x-www-form-urlencoded"},
        body,
    )

    def off_loop(request: HttpRequest) -> bool:
        routed = chain.routed(request)
        assert routed is not None
        return chain.off_loop(*routed)

    assert off_loop(request)
    iam = HttpRequest("POST", "/services/Euare", "", {}, b"Action=ListUsers&Version=2010-05-08")
    assert not off_loop(iam)
    # Reads stay on the loop (the calls clients make all the time); writes, which may wait for
    # the database's write lock, leave it.
    identity = b"Action=GetCallerIdentity&Version=2011-06-15"
    assert not off_loop(HttpRequest("POST", "/services/Tokens", "", {}, identity))
    create = b"Action=CreateUser&UserName=x&Version=2010-05-08"
    assert off_loop(HttpRequest("POST", "/services/Euare", "", {}, create))
    session = b"Action=GetSessionToken&Version=2011-06-15"
    assert off_loop(HttpRequest("POST", "/services/Tokens", "", {}, session))


# --- 10: GetSessionToken credentials --------------------------------------------------------


def test_session_token_credentials_cannot_call_iam(cloud: Cloud, account: Account) -> None:
    user = account.user()
    key = account.iam.create_access_key(UserName=user)["AccessKey"]
    long_term = (key["AccessKeyId"], key["SecretAccessKey"])
    sts = cloud.client("sts", *long_term)
    creds = sts.get_session_token()["Credentials"]
    temp = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    iam = _iam(cloud, *temp)
    for call in (
        lambda: iam.create_access_key(UserName=user),
        lambda: iam.list_users(),
        lambda: iam.create_login_profile(UserName=user, Password=password()),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        error = denied.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            "AccessDenied",
            403,
        )
    cli = cloud.aws_cli("iam", "create-access-key", "--user-name", user, access_key=temp[0],
                        secret_key=temp[1], session_token=temp[2])  # fmt: skip
    assert cli.returncode != 0 and "AccessDenied" in cli.stderr
    keys = account.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [long_term[0]]
    # Of STS, GetCallerIdentity and AssumeRole only.
    temp_sts = cloud.client("sts", *temp)
    assert temp_sts.get_caller_identity()["Arn"].endswith(f":user/{user}")
    with pytest.raises(ClientError) as denied:
        temp_sts.get_access_key_info(AccessKeyId=long_term[0])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    role = f"r-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account.id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = account.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    assumed = temp_sts.assume_role(RoleArn=arn["Role"]["Arn"], RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/s1")


def test_password_sign_in_credentials_still_call_iam(cloud: Cloud, account: Account) -> None:
    """The console's own credentials (GetAccessToken) act as the user, IAM included."""
    right = password()
    user = account.user(right)
    answer = sign_in(cloud, account.name, user, right, fresh_source())
    assert answer.status == 200
    iam = _iam(cloud, *keys_of(answer))
    assert any(u["UserName"] == user for u in iam.list_users()["Users"])


# --- the console ----------------------------------------------------------------------------


@dataclass
class Page:
    status: int
    url: str
    text: str

    def csrf(self) -> str:
        marker = 'name="_csrf" value="'
        start = self.text.index(marker) + len(marker)
        return self.text[start : self.text.index('"', start)]


class Browser:
    """A browser at `source` (an address of its own): follows redirects, keeps cookies."""

    def __init__(self, cloud: Cloud, source: str) -> None:
        self.base = cloud.console + "/console"
        self.jar = http.cookiejar.CookieJar()
        connect = functools.partial(http.client.HTTPConnection, source_address=(source, 0))

        class FromSource(urllib.request.HTTPHandler):
            def http_open(self, req: Any) -> Any:
                return self.do_open(connect, req)

        self.opener = urllib.request.build_opener(
            FromSource(), urllib.request.HTTPCookieProcessor(self.jar)
        )
        self.last: Page | None = None

    def open(self, path: str, form: dict[str, str] | None = None) -> Page:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=60) as r:
                page = Page(r.status, r.url, r.read().decode())
        except urllib.error.HTTPError as failed:
            page = Page(failed.code, failed.url, failed.read().decode())
        assert "Traceback" not in page.text
        self.last = page
        return page

    def post(self, path: str, **form: str) -> Page:
        assert self.last is not None
        return self.open(path, {"_csrf": self.last.csrf(), **form})

    def sign_in(self, account: str, user: str, secret: str) -> Page:
        self.open("/login")
        return self.post("/login", account=account, user=user, password=secret)


def test_console_sign_ins_count_against_the_browsers_address(
    cloud: Cloud, account: Account
) -> None:
    right = password()
    user = account.user(right)
    guesser = Browser(cloud, fresh_source())
    for n in range(sign_in_throttle.SOURCE_LIMIT):
        page = guesser.sign_in(account.name, f"nobody-{n}", f"guess-{n}")
        assert page.status == 403 and "Invalid account name" in page.text
    page = guesser.sign_in(account.name, user, right)
    assert page.status == 403 and "Too many failed sign-in attempts" in page.text
    # The console's own address is not what was counted: another browser signs in.
    page = Browser(cloud, fresh_source()).sign_in(account.name, user, right)
    assert page.status == 200 and page.url.endswith("/console/"), page.text


def test_console_password_guessing_locks_the_user(cloud: Cloud, account: Account) -> None:
    right = password()
    user = account.user(right)
    guesser = Browser(cloud, fresh_source())
    for n in range(sign_in_throttle.USER_LIMIT):
        assert guesser.sign_in(account.name, user, f"guess-{n}").status == 403
    page = Browser(cloud, fresh_source()).sign_in(account.name, user, right)
    assert page.status == 403 and "Too many failed sign-in attempts" in page.text


@pytest.fixture
def browser(cloud: Cloud, account: Account) -> Browser:
    right = password()
    user = account.user(right)
    b = Browser(cloud, fresh_source())
    page = b.sign_in(account.name, user, right)
    assert page.status == 200 and page.url.endswith("/console/"), page.text
    return b


def test_a_forged_non_ascii_form_token_is_refused_not_a_crash(
    cloud: Cloud, browser: Browser
) -> None:
    browser.open("/keypairs")
    for token in ("é", "\u2603" * 32, "\x00"):
        page = browser.open("/keypairs/create", {"_csrf": token, "name": "x"})
        assert page.status == 403, page.status
    anonymous = Browser(cloud, fresh_source())
    anonymous.open("/login")
    page = anonymous.open("/login", {"_csrf": "jösé", "account": "a", "user": "b", "password": "c"})
    assert page.status == 403


def test_bad_input_in_a_form_is_the_users_error(browser: Browser) -> None:
    # Refused by botocore before anything is sent: a page that could not be built says why.
    for bucket in ("bad name!", "arn:aws:s3:us-east-1:123456789012:accesspoint/x"):
        page = browser.open("/buckets/objects?" + urllib.parse.urlencode({"bucket": bucket}))
        assert page.status == 400, (bucket, page.status)
        assert "Invalid bucket name" in page.text and "did not answer" not in page.text
    # A form comes back with the message.
    browser.open("/buckets")
    page = browser.post("/buckets/create", bucket="bad name!")
    assert page.status == 200 and "Invalid bucket name" in page.text
    assert "did not answer" not in page.text


def _session_keys(cloud: Cloud, browser: Browser) -> tuple[str, str, str]:
    from mallee.console.session import Sealer
    from mallee.sealing_key import load_key

    assert cloud.data_dir is not None
    [cookie] = [c for c in browser.jar if c.name == "mallee_console"]
    session = Sealer(load_key(cloud.data_dir)).open(cookie.value)
    assert session is not None and session.signed_in
    return session.access_key, session.secret_key, session.session_token


def test_sign_out_ends_the_session_on_the_server(cloud: Cloud, browser: Browser) -> None:
    if cloud.data_dir is None:
        pytest.skip("a deployed cloud's console key is not at hand")
    [cookie] = [c for c in browser.jar if c.name == "mallee_console"]
    copied = cookie.value
    access, secret, token = _session_keys(cloud, browser)
    sts = cloud.client("sts", access, secret, token)
    assert sts.get_caller_identity()["Account"]
    assert browser.post("/logout").url.endswith("/console/login")
    # The cookie copied before signing out is refused (403) with the reason and the sign-in
    # form, nothing shown of the account.
    thief = Browser(cloud, fresh_source())
    thief.open("/login")
    [fresh] = [c for c in thief.jar if c.name == "mallee_console"]
    fresh.value = copied
    page = thief.open("/instances")
    assert page.status == 403, (page.status, page.url)
    assert "Your session has ended" in page.text and 'name="password"' in page.text
    # And so do the credentials inside it, at once in every api process (their cache holds
    # an answer at most a second).
    deadline = time.monotonic() + 3
    while True:
        try:
            sts.get_caller_identity()
        except ClientError as refused:
            assert refused.response["Error"]["Code"] == "InvalidClientTokenId"
            break
        assert time.monotonic() < deadline, "the session's credentials still work"
        time.sleep(0.2)


def test_revoking_needs_temporary_credentials(cloud: Cloud) -> None:
    sts = mallee_client(
        "sts",
        cloud.endpoint + "/services/Tokens",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    with pytest.raises(ClientError) as refused:
        sts.revoke_access_token()
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationError",
        400,
    )
