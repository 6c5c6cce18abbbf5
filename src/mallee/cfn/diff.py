"""What an UpdateStack or a change set would do to each resource, in the shape
DescribeChangeSet's ResourceChange has.

The caller hands over the stack's resources as they stand (type, resolved properties, the
resource attributes) and the new template's, resolved the same way against the current
resources. Values that cannot be known before the update runs, because they come from a
resource that is itself being replaced or modified, are where AWS's change sets say
"Dynamic": the caller either puts an `Unknown` in the value, or tells us which resources each
property refers to (`ResourceDecl.references`) and the diff works out which of those are
changing, in dependency order, as CloudFormation does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mallee.cfn import types

NO_UPDATES_MESSAGE = "No updates are to be performed."


class Action(StrEnum):
    ADD = "Add"
    MODIFY = "Modify"
    REMOVE = "Remove"


class Replacement(StrEnum):
    TRUE = "True"
    FALSE = "False"
    CONDITIONAL = "Conditional"


class Scope(StrEnum):
    PROPERTIES = "Properties"
    METADATA = "Metadata"
    DELETION_POLICY = "DeletionPolicy"
    UPDATE_REPLACE_POLICY = "UpdateReplacePolicy"
    TAGS = "Tags"


class Recreation(StrEnum):
    NEVER = "Never"
    CONDITIONALLY = "Conditionally"
    ALWAYS = "Always"


class Evaluation(StrEnum):
    STATIC = "Static"
    DYNAMIC = "Dynamic"


class ChangeSource(StrEnum):
    DIRECT_MODIFICATION = "DirectModification"
    RESOURCE_REFERENCE = "ResourceReference"
    RESOURCE_ATTRIBUTE = "ResourceAttribute"
    PARAMETER_REFERENCE = "ParameterReference"


class AttributeChange(StrEnum):
    ADD = "Add"
    REMOVE = "Remove"
    MODIFY = "Modify"


@dataclass(frozen=True)
class Unknown:
    """A value known only once the update runs: `source` is the resource it comes from,
    "Logical" for a Ref (a new physical id) or "Logical.Attribute" for an Fn::GetAtt."""

    source: str


@dataclass(frozen=True)
class ResourceState:
    """A resource of the stack as it stands, properties resolved as they were applied."""

    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    physical_id: str | None = None
    metadata: Any = None
    deletion_policy: str | None = None
    update_replace_policy: str | None = None
    # Tags the stack propagates to the resource (stack tags plus aws:cloudformation:*).
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceDecl:
    """A resource of the new template, resolved against the current resources and the new
    parameter values. `references` maps a property to the resources it uses ("Logical" for
    Ref, "Logical.Attribute" for Fn::GetAtt); `parameters` maps it to the parameters it uses,
    so a change can name its cause."""

    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    metadata: Any = None
    deletion_policy: str | None = None
    update_replace_policy: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    references: Mapping[str, Collection[str]] = field(default_factory=dict)
    parameters: Mapping[str, Collection[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    attribute: Scope
    requires_recreation: Recreation
    name: str | None = None
    change_type: AttributeChange = AttributeChange.MODIFY

    @property
    def path(self) -> str:
        return f"/{self.attribute}" if self.name is None else f"/{self.attribute}/{self.name}"


@dataclass(frozen=True)
class Detail:
    target: Target
    evaluation: Evaluation
    change_source: ChangeSource
    causing_entity: str | None = None

    def as_aws(self) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Attribute": str(self.target.attribute),
            "RequiresRecreation": str(self.target.requires_recreation),
            "Path": self.target.path,
            "AttributeChangeType": str(self.target.change_type),
        }
        if self.target.name is not None:
            target["Name"] = self.target.name
        out: dict[str, Any] = {
            "Target": target,
            "Evaluation": str(self.evaluation),
            "ChangeSource": str(self.change_source),
        }
        if self.causing_entity is not None:
            out["CausingEntity"] = self.causing_entity
        return out


@dataclass(frozen=True)
class Change:
    """One ResourceChange. `policy_action` is what happens to the resource that goes away:
    Delete/Retain/Snapshot for a removal, ReplaceAnd<policy> for a replacement."""

    action: Action
    logical_id: str
    resource_type: str
    physical_id: str | None = None
    replacement: Replacement | None = None
    scope: tuple[Scope, ...] = ()
    details: tuple[Detail, ...] = ()
    policy_action: str | None = None

    def as_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Action": str(self.action),
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
        }
        if self.physical_id is not None:
            out["PhysicalResourceId"] = self.physical_id
        if self.action is Action.MODIFY:
            out["Replacement"] = str(self.replacement)
            out["Scope"] = [str(s) for s in self.scope]
            out["Details"] = [d.as_aws() for d in self.details]
        if self.policy_action is not None:
            out["PolicyAction"] = self.policy_action
        return out


_RECREATION = {
    types.Update.NO_INTERRUPTION: Recreation.NEVER,
    types.Update.SOME_INTERRUPTIONS: Recreation.NEVER,
    types.Update.CONDITIONAL: Recreation.CONDITIONALLY,
    types.Update.REPLACEMENT: Recreation.ALWAYS,
}

_SCOPE_ORDER = tuple(Scope)


def changes(
    old: Mapping[str, ResourceState],
    new: Mapping[str, ResourceDecl],
    *,
    changed_parameters: Collection[str] = (),
) -> list[Change]:
    """The resource changes from `old` to `new`: modifications and removals in the order of
    `old`, then additions in the order of `new`. `changed_parameters` are the parameters whose
    value differs from the stack's, so a change they cause is a ParameterReference."""
    static: dict[str, list[Detail]] = {}
    for logical_id, declared in new.items():
        existing = old.get(logical_id)
        if existing is not None:
            static[logical_id] = _static_details(existing, declared, set(changed_parameters))
    dynamic = _dynamic_details(old, new, static)

    out: list[Change] = []
    for logical_id, state in old.items():
        decl = new.get(logical_id)
        if decl is None:
            out.append(
                Change(
                    action=Action.REMOVE,
                    logical_id=logical_id,
                    resource_type=state.type,
                    physical_id=state.physical_id,
                    policy_action=state.deletion_policy or "Delete",
                )
            )
            continue
        details = static[logical_id] + dynamic.get(logical_id, [])
        if not details:
            continue
        replacement = _replacement(state, decl, details)
        policy = None
        if replacement is not Replacement.FALSE:
            policy = "ReplaceAnd" + (state.update_replace_policy or "Delete")
        out.append(
            Change(
                action=Action.MODIFY,
                logical_id=logical_id,
                resource_type=decl.type,
                physical_id=state.physical_id,
                replacement=replacement,
                scope=tuple(
                    s for s in _SCOPE_ORDER if any(d.target.attribute is s for d in details)
                ),
                details=tuple(details),
                policy_action=policy,
            )
        )
    out.extend(
        Change(action=Action.ADD, logical_id=logical_id, resource_type=decl.type)
        for logical_id, decl in new.items()
        if logical_id not in old
    )
    return out


def no_updates(found: Collection[Change]) -> bool:
    """True when UpdateStack must answer NO_UPDATES_MESSAGE."""
    return not found


def replaced(found: Collection[Change]) -> list[str]:
    """Logical ids whose update may make a new physical resource."""
    return [
        c.logical_id
        for c in found
        if c.action is Action.MODIFY and c.replacement is not Replacement.FALSE
    ]


def _static_details(
    state: ResourceState, decl: ResourceDecl, changed_parameters: set[str]
) -> list[Detail]:
    """Differences visible before the update runs, plus Unknown values the caller marked."""
    details: list[Detail] = []
    type_changed = state.type != decl.type
    for name in _union(state.properties, decl.properties):
        before = state.properties.get(name)
        after = decl.properties.get(name)
        unknown = _first_unknown(after)
        if unknown is None and _same(before, after):
            continue
        if type_changed:
            recreation = Recreation.ALWAYS
        else:
            recreation = _RECREATION[types.update_behaviour(decl.type, name)]
        target = Target(Scope.PROPERTIES, recreation, name, _change_type(before, after))
        if unknown is not None:
            details.append(_dynamic(target, unknown.source))
            continue
        causes = sorted(set(decl.parameters.get(name, ())) & changed_parameters)
        if causes:
            details.extend(
                Detail(target, Evaluation.STATIC, ChangeSource.PARAMETER_REFERENCE, param)
                for param in causes
            )
        else:
            details.append(Detail(target, Evaluation.STATIC, ChangeSource.DIRECT_MODIFICATION))
    if type_changed and not details:
        # A new type with identical properties is still a different resource.
        details.append(
            Detail(
                Target(Scope.PROPERTIES, Recreation.ALWAYS),
                Evaluation.STATIC,
                ChangeSource.DIRECT_MODIFICATION,
            )
        )
    for scope, before_value, after_value in (
        (Scope.METADATA, state.metadata, decl.metadata),
        (Scope.DELETION_POLICY, state.deletion_policy, decl.deletion_policy),
        (Scope.UPDATE_REPLACE_POLICY, state.update_replace_policy, decl.update_replace_policy),
        (Scope.TAGS, dict(state.tags) or None, dict(decl.tags) or None),
    ):
        if not _same(before_value, after_value):
            details.append(
                Detail(
                    Target(
                        scope, Recreation.NEVER, change_type=_change_type(before_value, after_value)
                    ),
                    Evaluation.STATIC,
                    ChangeSource.DIRECT_MODIFICATION,
                )
            )
    return details


def _dynamic_details(
    old: Mapping[str, ResourceState],
    new: Mapping[str, ResourceDecl],
    static: Mapping[str, list[Detail]],
) -> dict[str, list[Detail]]:
    """Properties that refer to a resource being replaced (Ref: the physical id changes) or
    modified at all (Fn::GetAtt: its attributes may change), found by propagating until
    nothing changes, since a dependant that may be replaced changes its own dependants in turn."""
    dynamic: dict[str, list[Detail]] = {}

    def status(logical_id: str) -> tuple[bool, bool]:
        """(modified, maybe replaced) as known so far; an added resource is neither."""
        if logical_id not in old or logical_id not in new:
            return False, False
        details = static.get(logical_id, []) + dynamic.get(logical_id, [])
        if not details:
            return False, False
        rep = _replacement(old[logical_id], new[logical_id], details)
        return True, rep is not Replacement.FALSE

    # A worklist rather than rounds: when a resource gains a detail its status may rise, so
    # only the resources referring to it need another look (a long chain stays linear).
    dependants: dict[str, list[str]] = {}
    for logical_id, decl in new.items():
        for refs in decl.references.values():
            for ref in refs:
                dependants.setdefault(ref.partition(".")[0], []).append(logical_id)
    pending = deque(logical_id for logical_id in new if logical_id in old)
    queued = set(pending)
    while pending:
        logical_id = pending.popleft()
        queued.discard(logical_id)
        state, decl = old[logical_id], new[logical_id]
        done = {d.target.name for d in static.get(logical_id, []) + dynamic.get(logical_id, [])}
        grew = False
        for name, refs in decl.references.items():
            if name in done:
                continue
            cause = _changing_reference(refs, status)
            if cause is None:
                continue
            recreation = (
                Recreation.ALWAYS
                if state.type != decl.type
                else _RECREATION[types.update_behaviour(decl.type, name)]
            )
            before = state.properties.get(name)
            after = decl.properties.get(name)
            target = Target(Scope.PROPERTIES, recreation, name, _change_type(before, after))
            dynamic.setdefault(logical_id, []).append(_dynamic(target, cause))
            grew = True
        if grew:
            for dependant in dependants.get(logical_id, []):
                if dependant in old and dependant not in queued:
                    pending.append(dependant)
                    queued.add(dependant)
    return dynamic


def _changing_reference(
    refs: Collection[str], status: Callable[[str], tuple[bool, bool]]
) -> str | None:
    for ref in sorted(refs):
        logical_id, _, attribute = ref.partition(".")
        modified, maybe_replaced = status(logical_id)
        if maybe_replaced or (attribute and modified):
            return ref
    return None


def _dynamic(target: Target, source: str) -> Detail:
    kind = ChangeSource.RESOURCE_ATTRIBUTE if "." in source else ChangeSource.RESOURCE_REFERENCE
    return Detail(target, Evaluation.DYNAMIC, kind, source)


def _replacement(state: ResourceState, decl: ResourceDecl, details: list[Detail]) -> Replacement:
    """AWS's rule: Always and Static is True; Always and Dynamic, or Conditionally, is
    Conditional; otherwise False. A type change always replaces."""
    if state.type != decl.type:
        return Replacement.TRUE
    result = Replacement.FALSE
    for detail in details:
        recreation = detail.target.requires_recreation
        if recreation is Recreation.ALWAYS and detail.evaluation is Evaluation.STATIC:
            return Replacement.TRUE
        if recreation is not Recreation.NEVER:
            result = Replacement.CONDITIONAL
    return result


def _change_type(before: object, after: object) -> AttributeChange:
    if before is None:
        return AttributeChange.ADD
    if after is None:
        return AttributeChange.REMOVE
    return AttributeChange.MODIFY


def _union(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _first_unknown(value: object) -> Unknown | None:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Mapping):
        items: Collection[object] = list(value.values())
    elif isinstance(value, list | tuple):
        items = value
    else:
        return None
    for item in items:
        found = _first_unknown(item)
        if found is not None:
            return found
    return None


def _same(before: object, after: object) -> bool:
    return _canonical(before) == _canonical(after)


def _canonical(value: object) -> object:
    """Template values as CloudFormation compares them: scalars as the strings the services
    receive, so `80` and `"80"`, or `true` and `"true"`, are no change."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value
