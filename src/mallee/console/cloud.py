"""The console's way into the cloud: password sign-in (STS GetAccessToken) and botocore
clients that act with the temporary credentials it returns."""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import botocore.session
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from defusedxml import ElementTree

from mallee import sign_in_source
from mallee.api.models.client import MalleeLoader
from mallee.sealing_key import load_key

# Pages are interactive: a cloud that does not answer should say so within a minute.
CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"total_max_attempts": 2, "mode": "standard"},
    s3={"addressing_style": "path"},
    user_agent_extra="mallee-console",
)
# Where services are reached when their SigV4 scope cannot name them (see routing).
PATHS = {"empyrean": "/services/Empyrean", "sts": "/services/Tokens"}
_MAX_ANSWER = 64 * 1024
_CACHED_CLIENTS = 64


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str
    # Epoch seconds.
    expires: float


class SignInError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        # The HTTP status the sign-in page answers with.
        self.status = status


class _SharedModelLoader(MalleeLoader):
    """MalleeLoader copies the server's model for each load; the console's clients share one
    copy per service (as botocore's own loader shares what it loads), so a page does not pay
    for copying the EC2 model every time it makes a client."""

    def __init__(self) -> None:
        super().__init__()
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if type_name != "service-2" or api_version is not None:
            return super().load_service_model(service_name, type_name, api_version)
        with self._lock:
            if service_name not in self._models:
                self._models[service_name] = super().load_service_model(service_name, type_name)
            return self._models[service_name]


def _bucket_not_arn(params: dict[str, Any], **_: Any) -> None:
    """botocore takes a bucket "name" that is an access point or Outposts ARN as the address of
    another endpoint (https://<name>-<account>.<host>): a name typed into a console form must
    not send the user's credentials elsewhere. No bucket name holds a colon."""
    bucket = params.get("Bucket")
    if isinstance(bucket, str) and ":" in bucket:
        raise ParamValidationError(
            report=f'Invalid bucket name "{bucket}": a bucket name holds no ":" (not an ARN)'
        )


def _keep_timestamps(value: str) -> str:
    # Shown as the cloud sent them (2013-06-10T12:29:41.082Z), like euca2ools.
    return value


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def basic_authorization(account: str, user: str, password: str) -> str:
    """Eucalyptus' (and eucaconsole's) form: each part base64-encoded before the usual Basic
    encoding, so names and passwords may hold '@' and ':'."""
    inner = f"{_b64(user)}@{_b64(account)}:{_b64(password)}"
    return "Basic " + _b64(inner)


def _text(root: Element, name: str) -> str:
    found = root.find(f".//{{*}}{name}")
    if found is None:
        found = root.find(f".//{name}")
    return (found.text or "").strip() if found is not None else ""


class Cloud:
    def __init__(self, endpoint: str, region: str, data_dir: Path) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        # Where the console's key is, which vouches for the browser's address at sign-in.
        self.data_dir = data_dir
        self._session: Any = None
        self._clients: OrderedDict[tuple[str, str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def sign_in(self, account: str, user: str, password: str, browser: str) -> Credentials:
        """GetAccessToken, unsigned (it is the password that proves who calls), counted by the
        sign-in throttle against the `browser`'s address (see sign_in_source).

        No DurationSeconds: the cloud then grants the longest session it allows for this
        identity (an account's root user gets less than its IAM users).
        """
        authorization = basic_authorization(account, user, password)
        source = sign_in_source.vouch(load_key(self.data_dir), browser, authorization)
        request = urllib.request.Request(
            self.endpoint + PATHS["sts"],
            data=b"Action=GetAccessToken&Version=2011-06-15",
            headers={
                "Authorization": authorization,
                sign_in_source.HEADER: source,
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                root = ElementTree.fromstring(answer.read(_MAX_ANSWER))
        except urllib.error.HTTPError as failed:
            raise _sign_in_error(failed) from None
        except OSError as failed:
            answer = f"the cloud API did not answer: {failed}"
            raise SignInError("ServiceUnavailable", answer, 502) from None
        expiration = datetime.fromisoformat(_text(root, "Expiration"))
        return Credentials(
            _text(root, "AccessKeyId"),
            _text(root, "SecretAccessKey"),
            _text(root, "SessionToken"),
            expiration.timestamp(),
        )

    def client(self, service: str, keys: Credentials) -> Any:
        """A client acting as `keys`; reused while it is among the recently used ones."""
        cache_key = (service, keys.access_key, keys.secret_key, keys.session_token)
        with self._lock:
            found = self._clients.get(cache_key)
            if found is not None:
                self._clients.move_to_end(cache_key)
                return found
            # botocore sessions are not thread-safe; the clients they make are.
            made = self._botocore().create_client(
                service,
                endpoint_url=self.endpoint + PATHS.get(service, ""),
                region_name=self.region,
                aws_access_key_id=keys.access_key,
                aws_secret_access_key=keys.secret_key,
                aws_session_token=keys.session_token or None,
                config=CONFIG,
            )
            self._clients[cache_key] = made
            if len(self._clients) > _CACHED_CLIENTS:
                self._clients.popitem(last=False)
            return made

    def _botocore(self) -> Any:
        if self._session is None:
            session = botocore.session.get_session()
            session.register_component("data_loader", _SharedModelLoader())
            # On the session: it runs before the handlers botocore gives each S3 client, which
            # rewrite the endpoint for an ARN.
            session.register("before-parameter-build.s3", _bucket_not_arn)
            session.get_component("response_parser_factory").set_parser_defaults(
                timestamp_parser=_keep_timestamps
            )
            self._session = session
        return self._session


def _sign_in_error(failed: urllib.error.HTTPError) -> SignInError:
    try:
        root = ElementTree.fromstring(failed.read(_MAX_ANSWER))
        code, message = _text(root, "Code"), _text(root, "Message")
    except Exception:  # any answer that is not a query-protocol error
        code, message = "", ""
    status = failed.code if 400 <= failed.code < 500 else 502
    return SignInError(
        code or f"HTTP{failed.code}", message or failed.reason or "sign-in failed", status
    )
