"""The browser address a console sign-in comes from, vouched for to the sign-in throttle.

The console signs a user in by calling STS GetAccessToken itself, so the API sees every console
sign-in come from the console's own address: counted against that one address, a few users'
typos would lock everybody out of the console, and a guesser at the console would hide among
them. So the console names the browser's address in HEADER, with an HMAC over that address and
the sign-in's Basic credentials, keyed from the console's sealing key (console.key in the data
directory: every api process of the cloud has it, no client does). STS counts the attempt
against the named address only when the HMAC is right; anyone else's header changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from mallee.api.http import HttpRequest
from mallee.sealing_key import KEY_FILE, load_key

HEADER = "x-mallee-sign-in-source"


def _mac(console_key: bytes, address: str, authorization: str) -> str:
    # A key of its own, derived: the sealing key itself is used for nothing else.
    key = hmac.new(console_key, b"mallee console sign-in source", hashlib.sha256).digest()
    signed = f"{address}\n{authorization}".encode("utf-8", "replace")
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


def vouch(console_key: bytes, address: str, authorization: str) -> str:
    """The HEADER value naming `address` as the source of a sign-in with `authorization`."""
    return f"{address} {_mac(console_key, address, authorization)}"


def source_address(request: HttpRequest, data_dir: Path) -> str:
    """The address a GetAccessToken request counts against: the browser's the console vouches
    for, else the request's own."""
    claimed = request.headers.get(HEADER)
    # No key file: no console of this cloud has signed anyone in, so none vouches.
    if not claimed or not (data_dir / KEY_FILE).exists():
        return request.remote_addr
    address, _, mac = claimed.rpartition(" ")
    try:
        want = _mac(load_key(data_dir), address, request.headers.get("authorization", ""))
    except (OSError, ValueError):  # an unreadable key vouches for nobody
        return request.remote_addr
    if hmac.compare_digest(want.encode(), mac.encode("utf-8", "replace")):
        return address
    return request.remote_addr
