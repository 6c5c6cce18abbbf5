"""IAM ARNs: built from rows, and taken apart."""

from __future__ import annotations

from mallee.store.tables.iam import IamGroup, IamInstanceProfile, IamRole, IamUser


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def parse_arn(arn: str) -> tuple[str, str, str, str, str] | None:
    """(partition, service, region, account, resource) or None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]


def user_arn(u: IamUser) -> str:
    return iam_arn(u.account_id, "user", u.path, u.name)


def group_arn(g: IamGroup) -> str:
    return iam_arn(g.account_id, "group", g.path, g.name)


def role_arn(r: IamRole) -> str:
    return iam_arn(r.account_id, "role", r.path, r.name)


def profile_arn(p: IamInstanceProfile) -> str:
    return iam_arn(p.account_id, "instance-profile", p.path, p.name)
