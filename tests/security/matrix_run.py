"""Sending the matrix: every operation of a service as one principal."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from mallee.api.models import load_service_model
from tests.security.matrix_expect import Outcome
from tests.security.matrix_requests import build_params
from tests.security.matrix_world import ALTERNATIVES, Principal, World

# Requests in flight at once: the machine is small, and answers are quick.
WORKERS = 4
# mallee's sign-out: it ends the session it is signed with.
ENDS_SESSION = frozenset({("sts", "RevokeAccessToken")})


def run_column(world: World, service: str, principal: Principal) -> list[Outcome]:
    """Every operation of `service`'s model, sent as `principal` (those its overlay does not
    apply to are skipped: they would repeat another column)."""
    client = world.client(service, principal)
    model = load_service_model(service)
    # An operation AWS serves on a host of its own (S3's WriteGetObjectResponse, on
    # <route>.s3-object-lambda): sent to a service path it is another request altogether.
    ops = [op for op in model.operation_names if not model.operation_model(op).endpoint]
    # An operation that may end the credentials it is signed with goes last.
    last = [op for op in ops if (service, op) in ENDS_SESSION]
    with ThreadPoolExecutor(WORKERS) as pool:
        found = list(
            pool.map(
                lambda op: send(world, client, service, op, principal),
                [op for op in ops if op not in last],
            )
        )
    found += [send(world, client, service, op, principal) for op in last]
    return [o for o in found if o is not None]


def request_for(world: World, service: str, operation: str, principal: Principal) -> dict[str, Any]:
    model = load_service_model(service).operation_model(operation)
    # A service new to the catalog has no names yet: its requests are generated whole.
    named = {**world.named.get(service, {}), **principal.overlay}
    return build_params(model, named, ALTERNATIVES.get(service, ()))


def send(
    world: World, client: Any, service: str, operation: str, principal: Principal
) -> Outcome | None:
    params = request_for(world, service, operation, principal)
    if principal.overlay and not any(k in params for k in principal.overlay):
        return None
    sent = _tokens_in(params, world.tokens)
    model = load_service_model(service).operation_model(operation)
    head = model.http.get("method") == "HEAD"
    signed = principal.keys is not None and model.auth_type != "none"
    temporary = principal.keys is not None and principal.keys.session_token is not None
    outcome = functools.partial(
        Outcome, service, operation, principal.name, signed=signed, temporary=temporary
    )
    try:
        answer = getattr(client, xform_name(operation))(**params)
    except ClientError as err:
        r = err.response
        status = int(r["ResponseMetadata"]["HTTPStatusCode"])
        code = str(r["Error"].get("Code", ""))
        # botocore names a bodiless HEAD error by its status.
        if head and code == str(status):
            code = ""
        message = str(r["Error"].get("Message", ""))
        return outcome(status, code, message, sent_tokens=sent)
    except (BotoCoreError, OSError) as err:
        return outcome(0, type(err).__name__, str(err), sent_tokens=sent)
    except Exception as err:  # the client could not even build it: the test's own fault
        return outcome(-1, type(err).__name__, str(err), sent_tokens=sent)
    status = int(answer["ResponseMetadata"]["HTTPStatusCode"])
    seen = _tokens_in(_readable(answer), world.tokens)
    errors = tuple(str(e.get("Code")) for e in answer.get("Errors", []) if isinstance(e, dict))
    done = len(answer.get("Deleted", []))
    return outcome(
        status,
        "",
        "",
        sent_tokens=sent,
        answer_tokens=seen,
        item_errors=errors,
        items_done=done,
    )


def _readable(answer: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    body = out.get("Body")
    if body is not None and hasattr(body, "read"):
        out["Body"] = body.read()
    return out


def _tokens_in(value: Any, tokens: frozenset[str]) -> frozenset[str]:
    """The tokens `value` carries whole: A's 203.0.113.10 is not in B's 203.0.113.101."""
    text = json.dumps(value, default=_text)
    return frozenset(m.group(1) for m in _token_pattern(tokens).finditer(text))


@functools.cache
def _token_pattern(tokens: frozenset[str]) -> re.Pattern[str]:
    longest_first = sorted(tokens, key=len, reverse=True)
    alternatives = "|".join(re.escape(t) for t in longest_first)
    return re.compile(f"(?<![A-Za-z0-9])({alternatives})(?![A-Za-z0-9])")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)
