"""The metadata server's way to role credentials is built late: at the first request that needs
it, or a while after the start, whichever comes first, and once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mallee.cli import metadata
from mallee.gateway import internal

pytestmark = pytest.mark.nodb


def test_built_at_the_first_request_then_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def fake(store: Any, region: str) -> Any:
        built.append(region)
        return lambda role, iid: {"AccessKeyId": f"{role}:{iid}"}

    monkeypatch.setattr(internal, "instance_role_assumer", fake)
    assume = metadata.deferred_assumer(None, "r1", warm_after=3600)  # type: ignore[arg-type]
    assert built == []
    assert assume("role", "i-1") == {"AccessKeyId": "role:i-1"}
    assert assume("role", "i-2") == {"AccessKeyId": "role:i-2"}
    assert built == ["r1"]


def test_built_in_the_background_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    done = threading.Event()

    def fake(store: Any, region: str) -> Any:
        done.set()
        return lambda role, iid: None

    monkeypatch.setattr(internal, "instance_role_assumer", fake)
    metadata.deferred_assumer(None, "r1", warm_after=0.01)  # type: ignore[arg-type]
    assert done.wait(10)
