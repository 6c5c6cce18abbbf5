"""Request parsers for the `query` and `ec2` protocols (form-encoded Action=...&Version=...)."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from mallee.api.errors import ServiceError, invalid_action, missing_action
from mallee.api.http import HttpRequest
from mallee.api.protocol import ParsedRequest, RequestParser, constraints
from mallee.api.protocol.shapes import Member, location_name, members
from mallee.api.protocol.validation import (
    Problems,
    check_characters,
    ec2_error,
    join_path,
    query_error,
    text_scalar,
)

_ABSENT = object()
_CONTAINERS = frozenset({"structure", "list", "map"})


def form_params(request: HttpRequest) -> dict[str, str]:
    try:
        return request.form_params()
    except UnicodeDecodeError as exc:
        raise ServiceError(
            "MalformedQueryString", "The request body is not valid UTF-8 form data.", 400
        ) from exc


def find_operation(params: dict[str, str], service: ServiceModel) -> OperationModel:
    action = params.get("Action")
    if not action:
        raise missing_action()
    try:
        return service.operation_model(action)
    except OperationNotFoundError as exc:
        raise invalid_action(action) from exc


class _Form:
    """The flat form parameters plus an index of which dotted prefixes have children."""

    __slots__ = ("children", "params")

    def __init__(self, params: dict[str, str]) -> None:
        self.params = params
        children: dict[str, set[str]] = {}
        for key in params:
            if "." not in key:
                continue
            parts = key.split(".")
            head = parts[0]
            for part in parts[1:]:
                children.setdefault(head, set()).add(part)
                head = f"{head}.{part}"
        self.children = children

    def indices(self, key: str) -> list[int]:
        found = self.children.get(key, ())
        # Short ASCII digit runs only: int() of a 5000-digit string raises, of "²" too.
        return sorted(
            int(part) for part in found if len(part) < 10 and part.isascii() and part.isdigit()
        )


class QueryRequestParser(RequestParser):
    protocol = "query"
    # EC2 does not enforce the (few) constraints its model declares; query services do.
    checks_constraints = True

    def parse(self, request: HttpRequest, service: ServiceModel) -> ParsedRequest:
        params = form_params(request)
        operation = find_operation(params, service)
        shape = operation.input_shape
        if shape is None:
            return ParsedRequest(operation, {})
        problems = Problems()
        result = self._structure(_Form(params), shape, "", "", problems)
        parsed = result if isinstance(result, dict) else {}
        if not problems and self.checks_constraints:
            constraints.check(shape, parsed, problems)
        if problems:
            raise self._error(problems)
        return ParsedRequest(operation, parsed)

    def _error(self, problems: Problems) -> ServiceError:
        return query_error(problems)

    def _wire(self, member: Member) -> str:
        return member.wire

    def _value(self, form: _Form, shape: Shape, key: str, path: str, problems: Problems) -> Any:
        type_name = shape.type_name
        if type_name == "structure":
            return self._structure(form, shape, key, path, problems)
        if type_name == "list":
            return self._list(form, shape, key, path, problems)
        if type_name == "map":
            return self._map(form, shape, key, path, problems)
        text = form.params.get(key)
        if text is None:
            return _ABSENT
        try:
            value = text_scalar(type_name, text)
        except ValueError:
            problems.bad(path, key.rpartition(".")[2], type_name, text)
            return _ABSENT
        if isinstance(value, str):
            check_characters(problems, shape, path, key, value)
        return value

    def _structure(
        self, form: _Form, shape: Shape, prefix: str, path: str, problems: Problems
    ) -> Any:
        if prefix and prefix not in form.children:
            return _ABSENT
        out: dict[str, Any] = {}
        params = form.params
        for member in members(shape):
            wire = self._wire(member)
            key = f"{prefix}.{wire}" if prefix else wire
            if key not in params and member.type not in _CONTAINERS:
                # An absent scalar (most members of most structures): no path to build.
                if member.required:
                    problems.missing(join_path(path, member.camel), wire, member.type)
                continue
            member_path = join_path(path, member.camel)
            value = self._value(form, member.shape, key, member_path, problems)
            if value is not _ABSENT:
                out[member.name] = value
            elif member.required:
                problems.missing(member_path, wire, member.type)
        return out

    def _list_prefix(self, shape: Shape, key: str) -> str:
        if shape.serialization.get("flattened"):
            item_name = shape.member.serialization.get("name")
            if item_name:
                head = key.rpartition(".")[0]
                return f"{head}.{item_name}" if head else str(item_name)
            return key
        return f"{key}.{location_name(shape.member, 'member')}"

    def _list(self, form: _Form, shape: Shape, key: str, path: str, problems: Problems) -> Any:
        list_prefix = self._list_prefix(shape, key)
        indices = form.indices(list_prefix)
        if not indices:
            # The query protocol sends an empty list as a bare "Name=".
            return [] if form.params.get(key) == "" else _ABSENT
        out = []
        for index in indices:
            item_path = f"{path}.{index}.member"
            value = self._value(form, shape.member, f"{list_prefix}.{index}", item_path, problems)
            if value is not _ABSENT:
                out.append(value)
        return out

    def _map(self, form: _Form, shape: Shape, key: str, path: str, problems: Problems) -> Any:
        entry_prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
        indices = form.indices(entry_prefix)
        if not indices:
            return {} if form.params.get(key) == "" else _ABSENT
        key_name = location_name(shape.key, "key")
        value_name = location_name(shape.value, "value")
        out: dict[Any, Any] = {}
        for index in indices:
            base = f"{entry_prefix}.{index}"
            map_key = self._value(form, shape.key, f"{base}.{key_name}", path, problems)
            if map_key is _ABSENT:
                problems.missing(f"{path}.{index}.key", key_name, shape.key.type_name)
                continue
            value = self._value(
                form, shape.value, f"{base}.{value_name}", f"{path}.{map_key}", problems
            )
            if value is not _ABSENT:
                out[map_key] = value
        return out


class Ec2RequestParser(QueryRequestParser):
    """EC2 query dialect: capitalised locationName/queryName, lists as Name.N without member."""

    protocol = "ec2"
    checks_constraints = False

    def _error(self, problems: Problems) -> ServiceError:
        return ec2_error(problems)

    def _wire(self, member: Member) -> str:
        return member.ec2_wire

    def _list_prefix(self, shape: Shape, key: str) -> str:
        return key
