"""Fixtures shared by the node agent's tests: registered images and instance rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallee.cloud_identity import system_account_id
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store


@pytest.fixture
def images(store: Store, tmp_path: Path) -> dict[str, str]:
    ensure_system_account(store)
    owner = system_account_id(store)
    from mallee.services.ec2.images import register_local_image

    made = {}
    for kind in ("kernel", "ramdisk", "machine"):
        path = tmp_path / f"{kind}.img"
        path.write_bytes(kind.encode() * 100)
        made[kind] = register_local_image(store, owner, name=kind, path=path, image_type=kind)
    return made
