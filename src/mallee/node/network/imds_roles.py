"""Instance profile credentials for the metadata server, issued once and reused until due.

Guests (and SDKs on them) poll iam/security-credentials often; each answer must not mint a new
STS session. Credentials are kept per (instance, profile) and replaced when less than REFRESH
of their life is left, as AWS rotates them well before they expire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from mallee.node.network.imds import IamView
from mallee.store import Store
from mallee.store.tables.iam import IamInstanceProfile, IamInstanceProfileRole, IamRole

# Replace credentials with less than this left (AWS: new ones about every hour of six).
REFRESH = timedelta(hours=5)
# A profile without deliverable credentials is looked at again this often.
RECHECK = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class InstanceRole:
    profile_arn: str
    profile_id: str
    role_name: str | None
    # None with a role: the role does not trust ec2.amazonaws.com.
    access_key_id: str | None = None
    secret_access_key: str | None = None
    token: str | None = None
    expiration: datetime | None = None


# (profile id, instance id) -> the profile's role and credentials, None when the profile is gone.
Issue = Callable[[str, str], InstanceRole | None]
# (role ARN, instance id) -> STS's Credentials for the instance, None when the role's trust
# policy does not let ec2.amazonaws.com assume it. The metadata process is handed one that
# asks STS through the gateway's internal call.
Assume = Callable[[str, str], dict[str, Any] | None]


def issuer(store: Store, assume: Assume) -> Issue:
    """The profile and its role come from the rows; the credentials from STS."""

    def issue(profile_id: str, instance_id: str) -> InstanceRole | None:
        with store.read() as s:
            profile = s.get(IamInstanceProfile, profile_id)
            if profile is None:
                return None
            role = s.scalars(
                select(IamRole)
                .join(IamInstanceProfileRole, IamInstanceProfileRole.role_id == IamRole.id)
                .where(IamInstanceProfileRole.profile_id == profile_id)
            ).first()
            arn = _arn(profile.account_id, "instance-profile", profile.path, profile.name)
            if role is None:
                return InstanceRole(arn, profile.id, None)
            name, role_arn = role.name, _arn(role.account_id, "role", role.path, role.name)
        credentials = assume(role_arn, instance_id)
        if credentials is None:
            return InstanceRole(arn, profile_id, name)
        return InstanceRole(
            arn,
            profile_id,
            name,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
            credentials["Expiration"],
        )

    return issue


def _arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def view_of(role: InstanceRole, fetched: datetime) -> IamView:
    updated = _stamp(fetched)
    if role.role_name is None or role.access_key_id is None or role.expiration is None:
        reason = (
            "Instance profile has no role"
            if role.role_name is None
            else f"EC2 cannot assume the role {role.role_name}: its trust policy does not "
            "allow ec2.amazonaws.com"
        )
        info = {"Code": "AssumeRoleUnauthorizedAccess", "Message": reason, "LastUpdated": updated}
        return IamView(json.dumps(info, indent=2), role.role_name)
    info = {
        "Code": "Success",
        "LastUpdated": updated,
        "InstanceProfileArn": role.profile_arn,
        "InstanceProfileId": role.profile_id,
    }
    credentials = {
        "Code": "Success",
        "LastUpdated": updated,
        "Type": "AWS-HMAC",
        "AccessKeyId": role.access_key_id,
        "SecretAccessKey": role.secret_access_key,
        "Token": role.token,
        "Expiration": _stamp(role.expiration),
    }
    return IamView(json.dumps(info, indent=2), role.role_name, json.dumps(credentials, indent=2))


class RoleCache:
    def __init__(self, issue: Issue, clock: Callable[[], datetime] | None = None) -> None:
        self._issue = issue
        self._now = clock or (lambda: datetime.now(UTC))
        self._views: dict[tuple[str, str], tuple[datetime, datetime, IamView | None]] = {}
        self._lock = threading.Lock()

    def view(self, instance_id: str, profile_id: str) -> IamView | None:
        key = (instance_id, profile_id)
        now = self._now()
        with self._lock:
            hit = self._views.get(key)
        if hit is not None and now < hit[1]:
            return hit[2]
        role = self._issue(profile_id, instance_id)
        view = view_of(role, now) if role is not None else None
        due = now + RECHECK
        if role is not None and role.expiration is not None:
            due = max(due, role.expiration - REFRESH)
        with self._lock:
            if len(self._views) > 4096:
                self._views = {k: v for k, v in self._views.items() if v[1] > now}
            self._views[key] = (now, due, view)
        return view
