"""A result mapping that never changes, so a serializer may render it once and keep the text.

Providers hand these out for resources whose output is a pure function of stored values (and
cache them keyed by those values): a DescribeInstances of a thousand unchanged instances then
costs a thousand cache hits instead of a thousand renderings.
"""

from __future__ import annotations

from typing import Any, NoReturn


class Frozen(dict[str, Any]):
    __slots__ = ("rendered",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # writer -> text; a writer stands for one (shape, element name, protocol).
        self.rendered: dict[object, str] = {}

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a Frozen result cannot be changed")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)
