from __future__ import annotations

from mallee.identity.credentials import lookup_credential
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from tests.unit.services.iam.conftest import Harness


def test_system_account_is_idempotent(store: Store) -> None:
    first = ensure_system_account(store)
    second = ensure_system_account(store)
    assert first == second
    assert first[0].startswith("AKIA") and len(first[0]) == 20
    cred = lookup_credential(store, first[0])
    assert cred is not None and cred.secret_key == first[1]
    p = cred.principal
    assert p.kind == "root" and p.is_cloud_admin
    assert p.arn == f"arn:aws:iam::{p.account_id}:root"
    assert len(p.account_id) == 12 and p.account_id.isdigit()


def test_admin_sees_eucalyptus_account(h: Harness) -> None:
    names = {a["AccountName"] for a in h.iam("ListAccounts")["Accounts"]}
    assert "eucalyptus" in names
    users = h.iam("ListUsers")["Users"]
    assert [u["UserName"] for u in users] == ["admin"]
