"""Which resources a resource needs first (Ref, Fn::GetAtt, Fn::Sub, DependsOn), in what
order they can be made, and the reverse order for deleting them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mallee.cfn.errors import TemplateError
from mallee.cfn.intrinsics import SUB_VARIABLE


def references(node: Any, conditions: Mapping[str, bool] | None = None) -> Iterator[str]:
    """Every name a fragment refers to (resources, parameters and pseudo parameters alike).
    With `conditions`, only the branch each Fn::If takes is followed."""
    if isinstance(node, list):
        for item in node:
            yield from references(item, conditions)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and isinstance(value, str):
            yield value
            return
        if key == "Fn::GetAtt":
            if isinstance(value, str):
                yield value.split(".", 1)[0]
                return
            if isinstance(value, list) and value and isinstance(value[0], str):
                yield value[0]
                yield from references(value[1:], conditions)
                return
        if key == "Fn::Sub":
            yield from _sub_references(value, conditions)
            return
        if (
            key == "Fn::If"
            and conditions is not None
            and isinstance(value, list)
            and len(value) == 3
            and value[0] in conditions
        ):
            yield from references(value[1] if conditions[value[0]] else value[2], conditions)
            return
    for value in node.values():
        yield from references(value, conditions)


def _sub_references(value: Any, conditions: Mapping[str, bool] | None) -> Iterator[str]:
    template, variables = value, {}
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
        template, variables = value
        yield from references(list(variables.values()), conditions)
    if not isinstance(template, str):
        yield from references(template, conditions)
        return
    for match in SUB_VARIABLE.finditer(template):
        inner = match.group(1)
        if inner.startswith("!"):
            continue
        name = inner.strip()
        if name not in variables:
            yield name.split(".", 1)[0] if "." in name and "::" not in name else name


def depends_on(definition: Mapping[str, Any]) -> list[str]:
    """A resource's DependsOn as a list (it may be written as one string)."""
    value = definition.get("DependsOn")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TemplateError("Template format error: DependsOn must be a string or list of strings")


def dependencies(
    template: Mapping[str, Any],
    active: set[str] | None = None,
    conditions: Mapping[str, bool] | None = None,
) -> dict[str, set[str]]:
    """Each resource's resources-to-make-first. `active` limits it to the resources the
    caller will make (those whose Condition holds); names outside it are left out, and so
    are parameters and pseudo parameters."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    names = set(resources) if active is None else set(resources) & active
    result: dict[str, set[str]] = {}
    for name in names:
        definition = resources[name]
        if not isinstance(definition, dict):
            result[name] = set()
            continue
        found = set(depends_on(definition))
        for key, value in definition.items():
            if key not in ("Type", "DependsOn", "Condition", "DeletionPolicy"):
                found.update(references(value, conditions))
        result[name] = {n for n in found if n in names and n != name}
    return result


def order(deps: Mapping[str, set[str]]) -> list[list[str]]:
    """Creation order in levels: every resource in a level depends only on earlier levels,
    so each level can be made in parallel. A cycle raises CloudFormation's error."""
    remaining = {name: set(needs) & set(deps) for name, needs in deps.items()}
    levels: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, needs in remaining.items() if not needs)
        if not ready:
            raise TemplateError(
                f"Circular dependency between resources: [{', '.join(sorted(remaining))}]"
            )
        levels.append(ready)
        for name in ready:
            del remaining[name]
        for needs in remaining.values():
            needs.difference_update(ready)
    return levels


def dependents(deps: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The reverse graph: for each resource, the resources that need it (which must be
    deleted before it)."""
    reverse: dict[str, set[str]] = {name: set() for name in deps}
    for name, needs in deps.items():
        for need in needs:
            reverse.setdefault(need, set()).add(name)
    return reverse


def deletion_order(deps: Mapping[str, set[str]]) -> list[list[str]]:
    """Levels for deleting: a resource goes only after everything that needs it."""
    return order(dependents(deps))
