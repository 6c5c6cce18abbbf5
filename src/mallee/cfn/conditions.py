"""The Conditions section evaluated to booleans, before any resource exists.

Conditions may name each other (`Condition: Other`, or inside Fn::And/Or/Not), so they are
resolved on demand through a lazy mapping that notices a condition it is already resolving.
Only parameters, pseudo parameters and mappings may be read here: a Ref to a resource is
refused as CloudFormation refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mallee.cfn import intrinsics
from mallee.cfn.errors import TemplateError


def _resource_ref(logical_id: str) -> Any:
    raise TemplateError(
        f"Template format error: Unresolved dependencies [{logical_id}]. Cannot reference "
        "resources in the Conditions block of the template"
    )


def _resource_att(logical_id: str, attribute: str) -> Any:
    raise _resource_ref(logical_id)


class _Lazy(Mapping[str, bool]):
    def __init__(self, definitions: Mapping[str, Any], ctx: intrinsics.Context) -> None:
        self._definitions = definitions
        self._ctx = ctx
        self._values: dict[str, bool] = {}
        self._resolving: list[str] = []

    def __getitem__(self, name: str) -> bool:
        if name in self._values:
            return self._values[name]
        if name not in self._definitions:
            raise KeyError(name)
        if name in self._resolving:
            cycle = self._resolving[self._resolving.index(name) :]
            raise TemplateError(
                f"Template error: circular condition dependency between [{', '.join(cycle)}]"
            )
        self._resolving.append(name)
        try:
            value = intrinsics.evaluate(self._definitions[name], self._ctx)
        finally:
            self._resolving.pop()
        if not isinstance(value, bool):
            raise TemplateError(
                f"Template format error: Condition {name} must be a condition function: "
                "Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition"
            )
        self._values[name] = value
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def __iter__(self) -> Iterator[str]:
        return iter(self._definitions)

    def __len__(self) -> int:
        return len(self._definitions)


def evaluate(
    template: Mapping[str, Any],
    params: Mapping[str, str | list[str]],
    pseudo: Mapping[str, Any],
) -> dict[str, bool]:
    """Every condition's value. `params` is what params.resolve returned; `pseudo` comes from
    intrinsics.pseudo_parameters()."""
    definitions = template.get("Conditions") or {}
    if not isinstance(definitions, dict):
        raise TemplateError("Template format error: Conditions must be an object")
    ctx = intrinsics.Context(
        pseudo=pseudo,
        parameters=params,
        mappings=template.get("Mappings") or {},
        ref=_resource_ref,
        get_att=_resource_att,
    )
    lazy = _Lazy(definitions, ctx)
    ctx.conditions = lazy
    return {name: lazy[name] for name in definitions}
