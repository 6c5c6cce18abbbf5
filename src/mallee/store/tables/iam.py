"""IAM: accounts, users, groups, roles, keys, policies, and STS temporary credentials.

Names are unique per account case-insensitively (as IAM), so each named entity keeps `name_key`
(the lower-cased name) under a unique constraint beside the name as the caller spelled it.
Children reference their parents with ON DELETE CASCADE so DeleteAccount(Recursive) is one
statement; IAM's own DeleteConflict rules are enforced in the service before deleting.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from mallee.store.db import Base

_ACCOUNT_FK = "iam_accounts.id"


def _account_fk() -> Mapped[str]:
    return mapped_column(String(12), ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True)


class IamAccount(Base):
    __tablename__ = "iam_accounts"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IamAccountAlias(Base):
    """Globally unique; one per account (as AWS)."""

    __tablename__ = "iam_account_aliases"

    alias: Mapped[str] = mapped_column(String(63), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), unique=True
    )


class IamAccountPolicy(Base):
    """Eucalyptus account policies: set by the cloud admin, they bound everyone in the account."""

    __tablename__ = "iam_account_policies"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    name: Mapped[str] = mapped_column(String(128))
    document: Mapped[str] = mapped_column(Text)


class NamedEntity:
    """The columns users, groups, roles and instance profiles share: an id (AIDA.., AGPA..,
    AROA.., AIPA..), the account, a name unique in it case-insensitively, and a path."""

    # The longest name IAM allows for the kind.
    NAME_LENGTH: ClassVar[int] = 64

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    path: Mapped[str] = mapped_column(String(512), default="/")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("account_id", "name_key"),)

    @declared_attr
    def account_id(cls) -> Mapped[str]:
        return _account_fk()

    @declared_attr
    def name(cls) -> Mapped[str]:
        return mapped_column(String(cls.NAME_LENGTH))

    @declared_attr
    def name_key(cls) -> Mapped[str]:
        return mapped_column(String(cls.NAME_LENGTH))


class IamUser(NamedEntity, Base):
    __tablename__ = "iam_users"

    password_last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # ARN of the managed policy that bounds the user's permissions (a policy's ARN never
    # changes, and DeletePolicy refuses one in use as a boundary).
    permissions_boundary: Mapped[str | None] = mapped_column(String(2048))


class IamGroup(NamedEntity, Base):
    __tablename__ = "iam_groups"
    NAME_LENGTH = 128


class IamGroupMember(Base):
    __tablename__ = "iam_group_members"

    group_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IamRole(NamedEntity, Base):
    __tablename__ = "iam_roles"

    trust_policy: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(1000))
    max_session_duration: Mapped[int] = mapped_column(Integer, default=3600)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_region: Mapped[str | None] = mapped_column(String(64))
    # As IamUser.permissions_boundary.
    permissions_boundary: Mapped[str | None] = mapped_column(String(2048))


class IamInstanceProfile(NamedEntity, Base):
    __tablename__ = "iam_instance_profiles"
    NAME_LENGTH = 128


class IamInstanceProfileRole(Base):
    """At most one role per profile (AWS's limit), enforced in the service."""

    __tablename__ = "iam_instance_profile_roles"

    profile_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_instance_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IamAccessKey(Base):
    """Long-term keys. Keys of an account's `admin` user are the account root's keys."""

    __tablename__ = "iam_access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # AKIA...
    secret: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = _account_fk()
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_service: Mapped[str | None] = mapped_column(String(64))
    last_used_region: Mapped[str | None] = mapped_column(String(64))


class IamLoginProfile(Base):
    __tablename__ = "iam_login_profiles"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True
    )
    # "scrypt$n$r$p$salt$hash" (base64 parts): never the password itself.
    password_hash: Mapped[str] = mapped_column(String(256))
    reset_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IamInlinePolicy(Base):
    """Inline policies of users, groups and roles (owner_type says which)."""

    __tablename__ = "iam_inline_policies"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = _account_fk()
    owner_type: Mapped[str] = mapped_column(String(8))  # user | group | role
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(128))
    document: Mapped[str] = mapped_column(Text)


class IamManagedPolicy(Base):
    """Customer managed policies (account_id their account) and AWS managed policies
    (account_id NULL, ARN arn:aws:iam::aws:policy/..., seeded by migration)."""

    __tablename__ = "iam_managed_policies"
    __table_args__ = (UniqueConstraint("account_id", "name_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ANPA...
    account_id: Mapped[str | None] = mapped_column(
        String(12), ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_key: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(512), default="/")
    description: Mapped[str | None] = mapped_column(String(1000))
    default_version: Mapped[str] = mapped_column(String(16), default="v1")
    next_version: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IamPolicyVersion(Base):
    __tablename__ = "iam_policy_versions"

    policy_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_managed_policies.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IamPolicyAttachment(Base):
    """A managed policy attached to a user, group or role. `account_id` is the owner's: an
    AWS managed policy is attached in many accounts, and its attachments go with each."""

    __tablename__ = "iam_policy_attachments"

    policy_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("iam_managed_policies.id", ondelete="CASCADE"), primary_key=True
    )
    owner_type: Mapped[str] = mapped_column(String(8), primary_key=True)  # user | group | role
    owner_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    account_id: Mapped[str] = _account_fk()


class IamTag(Base):
    """Tags of users and roles (entity_id is the AIDA/AROA id)."""

    __tablename__ = "iam_tags"

    entity_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class StsSession(Base):
    """Temporary credentials from GetSessionToken, GetAccessToken or AssumeRole, found by
    access key id."""

    __tablename__ = "sts_sessions"
    __table_args__ = (Index("ix_sts_sessions_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # ASIA...
    secret: Mapped[str] = mapped_column(String(64))
    session_token: Mapped[str] = mapped_column(Text)
    account_id: Mapped[str] = _account_fk()
    # root | user | assumed-role
    kind: Mapped[str] = mapped_column(String(16))
    # The user (GetSessionToken) or role (AssumeRole) whose policies apply.
    entity_id: Mapped[str | None] = mapped_column(String(32))
    # What GetCallerIdentity reports.
    arn: Mapped[str] = mapped_column(String(2048))
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    session_policy: Mapped[str | None] = mapped_column(Text)
    source_access_key: Mapped[str | None] = mapped_column(String(32))
    # The STS operation that issued them (GetSessionToken, GetAccessToken, AssumeRole): what
    # they may call depends on it (GetSessionToken's may not call IAM).
    issued_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[float] = mapped_column(Float)


class SignInFailure(Base):
    """Password sign-ins (GetAccessToken) counted per user and per source address, so every
    api process throttles the same guesser. `key` is a SHA-256 of what is counted: no user
    name an attacker typed is stored."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_last_at", "last_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Attempts in the current window; one counts as failed until it succeeds.
    failures: Mapped[int] = mapped_column(Integer)
    # Epoch seconds of the last counted attempt, and until when every attempt is refused.
    last_at: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float] = mapped_column(Float)


class IamServerCertificate(NamedEntity, Base):
    """UploadServerCertificate: a certificate (and chain) for HTTPS/SSL load balancer
    listeners. The private key is sealed (identity/server_certificates.py) and never answered."""

    __tablename__ = "iam_server_certificates"
    NAME_LENGTH = 128

    # arn:aws:iam::<account>:server-certificate<path><name>, kept as listeners name it.
    arn: Mapped[str] = mapped_column(String(2048), index=True)
    body: Mapped[str] = mapped_column(Text)
    chain: Mapped[str | None] = mapped_column(Text)
    sealed_key: Mapped[str] = mapped_column(Text)
    expiration: Mapped[datetime] = mapped_column(DateTime(timezone=True))
