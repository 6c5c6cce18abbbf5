"""AWS's launch template quotas, checked before anything is written: 5,000 templates per
account, 10,000 versions per template."""

from __future__ import annotations

import datetime as dt

import pytest

from mallee.api.errors import ServiceError
from mallee.ids import new_id
from mallee.services.ec2 import launch_templates
from mallee.services.ec2.launch_templates import check_template_room, check_version_room
from mallee.store import Store
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.launch_templates import Ec2LaunchTemplate, Ec2LaunchTemplateVersion

ACCOUNT, OTHER = "111111111111", "222222222222"


def _accounts(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(IamAccount(id=ACCOUNT, name="one", created_at=now))
        s.add(IamAccount(id=OTHER, name="two", created_at=now))


def _templates(store: Store, account: str, count: int) -> list[str]:
    now = dt.datetime.now(dt.UTC)
    ids = [new_id("lt") for _ in range(count)]
    with store.session() as s:
        for i, template_id in enumerate(ids):
            s.add(
                Ec2LaunchTemplate(
                    id=template_id, account_id=account, name=f"t-{template_id}-{i}",
                    created_at=now, created_by="arn:aws:iam::111111111111:root",
                )
            )  # fmt: skip
    return ids


def test_an_account_holds_at_most_max_templates(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert launch_templates.MAX_TEMPLATES == 5000
    monkeypatch.setattr(launch_templates, "MAX_TEMPLATES", 3)
    _accounts(store)
    _templates(store, ACCOUNT, 2)
    with store.read() as s:
        check_template_room(s, ACCOUNT)
    _templates(store, ACCOUNT, 1)
    with store.read() as s, pytest.raises(ServiceError) as err:
        check_template_room(s, ACCOUNT)
    assert (err.value.code, err.value.status) == ("LaunchTemplateLimitExceeded", 400)
    # Another account's are its own.
    with store.read() as s:
        check_template_room(s, OTHER)


def test_a_template_holds_at_most_max_versions(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert launch_templates.MAX_VERSIONS == 10000
    monkeypatch.setattr(launch_templates, "MAX_VERSIONS", 2)
    _accounts(store)
    template, other = _templates(store, ACCOUNT, 2)
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        for n in (1, 2):
            s.add(
                Ec2LaunchTemplateVersion(
                    template_id=template, version=n, data="{}", created_at=now,
                    created_by="arn:aws:iam::111111111111:root",
                )
            )  # fmt: skip
    with store.read() as s, pytest.raises(ServiceError) as err:
        check_version_room(s, template)
    assert err.value.code == "LaunchTemplateVersionLimitExceeded"
    with store.read() as s:
        check_version_room(s, other)
