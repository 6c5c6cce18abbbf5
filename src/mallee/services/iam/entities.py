"""Users, groups, roles and instance profiles: the named entities of an account, found, listed,
made, renamed and tagged the same way. Each kind is described once (its table, id prefix, ARN
kind, name parameter, quota and messages); the operations take the kind they act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mallee.identity.arns import iam_arn
from mallee.identity.clock import now
from mallee.identity.keys import new_id
from mallee.services.iam import tags
from mallee.services.iam.common import check_name, check_path, check_path_prefix, paginate
from mallee.services.iam.errors import already_exists, limit_exceeded, no_such_entity
from mallee.services.iam.scope import Scope
from mallee.store.tables.iam import (
    IamGroup,
    IamInlinePolicy,
    IamInstanceProfile,
    IamPolicyAttachment,
    IamRole,
    IamUser,
    NamedEntity,
)

E = TypeVar("E", bound=NamedEntity)


@dataclass(frozen=True, slots=True)
class EntityKind(Generic[E]):
    table: type[E]
    # The first letters of its ids (AIDA: a user's).
    id_prefix: str
    # The kind in its ARN (arn:aws:iam::<account>:<arn_kind><path><name>); also how inline
    # policies and attachments name their owner's kind.
    arn_kind: str
    # As operation, parameter and quota names spell it (UserName, UsersPerAccount).
    title: str
    quota: int
    # Messages, formatted with the name.
    missing: str
    taken: str

    @property
    def name_param(self) -> str:
        """The request parameter that names one (UserName)."""
        return f"{self.title}Name"

    @property
    def name_field(self) -> str:
        """The field validation errors name (userName)."""
        return self.title[0].lower() + self.title[1:] + "Name"

    @property
    def quota_name(self) -> str:
        return f"{self.title}sPerAccount"

    def find(self, s: Session, account_id: str, name: Any) -> E | None:
        t = self.table
        return s.scalars(
            select(t).where(t.account_id == account_id, t.name_key == str(name).lower())
        ).first()

    def get(self, s: Session, account_id: str, name: Any) -> E:
        """The entity `name` names in the account, or NoSuchEntity."""
        found = self.find(s, account_id, name)
        if found is None:
            raise no_such_entity(self.missing.format(name))
        return found

    def named(self, s: Session, scope: Scope, params: dict[str, Any]) -> E:
        """The entity the request's name parameter (UserName, RoleName, ...) names."""
        return self.get(s, scope.account_id, params.get(self.name_param))

    def is_taken(self, s: Session, account_id: str, name: str, ignore: str | None = None) -> bool:
        t = self.table
        found = s.scalars(
            select(t.id).where(t.account_id == account_id, t.name_key == name.lower())
        ).first()
        return found is not None and found != ignore

    def add(self, s: Session, account_id: str, name: str, path: str, **columns: Any) -> E:
        """A new entity, unless the name is taken or the account's quota is reached."""
        if self.is_taken(s, account_id, name):
            raise already_exists(self.taken.format(name))
        t = self.table
        count = s.scalar(select(func.count()).where(t.account_id == account_id)) or 0
        if count >= self.quota:
            raise limit_exceeded(f"Cannot exceed quota for {self.quota_name}: {self.quota}")
        named: dict[str, Any] = {
            "id": new_id(self.id_prefix),
            "account_id": account_id,
            "name": name,
            "name_key": name.lower(),
            "path": path,
            "created_at": now(),
        }
        entity = t(**named, **columns)
        s.add(entity)
        s.flush()
        return entity

    def check_name(self, value: Any, field: str | None = None) -> str:
        return check_name(value, field or self.name_field, self.table.NAME_LENGTH)

    def page(
        self, s: Session, account_id: str, params: dict[str, Any]
    ) -> tuple[Sequence[E], dict[str, Any]]:
        """One page of the account's entities under PathPrefix, by name."""
        t = self.table
        stmt = select(t).where(t.account_id == account_id)
        prefix = check_path_prefix(params.get("PathPrefix"))
        if prefix:
            stmt = stmt.where(t.path.startswith(prefix, autoescape=True))
        return paginate(s, stmt, t.name_key, params)

    def update(self, s: Session, entity: E, new_name: Any, new_path: Any, field: str) -> None:
        """Rename (NewUserName, NewGroupName: validation names `field`) and move (NewPath)."""
        if new_name is not None:
            self.check_name(new_name, field)
            if self.is_taken(s, entity.account_id, new_name, ignore=entity.id):
                raise already_exists(self.taken.format(new_name))
            entity.name, entity.name_key = new_name, new_name.lower()
        if new_path is not None:
            entity.path = check_path(new_path, "newPath")

    def has_policies(self, s: Session, entity: E) -> bool:
        """Whether inline or attached managed policies are left on the entity (DeleteConflict)."""
        inline = select(IamInlinePolicy.id).where(
            IamInlinePolicy.owner_type == self.arn_kind, IamInlinePolicy.owner_id == entity.id
        )
        attached = select(IamPolicyAttachment.policy_id).where(
            IamPolicyAttachment.owner_type == self.arn_kind,
            IamPolicyAttachment.owner_id == entity.id,
        )
        return bool(s.scalar(select(exists(inline)))) or bool(s.scalar(select(exists(attached))))

    def path_of(self, s: Session, account_id: str, name: str) -> str:
        """The path of the entity `name` names, "/" when there is none."""
        t = self.table
        found = s.scalars(
            select(t.path).where(t.account_id == account_id, t.name_key == name.lower())
        ).first()
        return str(found) if found is not None else "/"

    def arn(self, entity: E) -> str:
        return iam_arn(entity.account_id, self.arn_kind, entity.path, entity.name)


USERS: EntityKind[IamUser] = EntityKind(
    IamUser,
    id_prefix="AIDA",
    arn_kind="user",
    title="User",
    quota=5000,
    missing="The user with name {} cannot be found.",
    taken="User with name {} already exists.",
)
GROUPS: EntityKind[IamGroup] = EntityKind(
    IamGroup,
    id_prefix="AGPA",
    arn_kind="group",
    title="Group",
    quota=300,
    missing="The group with name {} cannot be found.",
    taken="Group with name {} already exists.",
)
ROLES: EntityKind[IamRole] = EntityKind(
    IamRole,
    id_prefix="AROA",
    arn_kind="role",
    title="Role",
    quota=1000,
    missing="The role with name {} cannot be found.",
    taken="Role with name {} already exists.",
)
PROFILES: EntityKind[IamInstanceProfile] = EntityKind(
    IamInstanceProfile,
    id_prefix="AIPA",
    arn_kind="instance-profile",
    title="InstanceProfile",
    quota=1000,
    missing="Instance Profile {} cannot be found.",
    taken="Instance Profile {} already exists.",
)


# Tags (users and roles) ------------------------------------------------------------------


def tag(kind: EntityKind[Any], s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    tags.put_tags(s, kind.named(s, scope, params).id, params.get("Tags"))
    return {}


def untag(
    kind: EntityKind[Any], s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    tags.remove_tags(s, kind.named(s, scope, params).id, params.get("TagKeys"))
    return {}


def list_tags(
    kind: EntityKind[Any], s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    return tags.list_tags(s, kind.named(s, scope, params).id, params)
