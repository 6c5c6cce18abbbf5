"""A composite alarm's AlarmRule: its grammar (PutCompositeAlarm checks it) and its value over
the children's states (the controller's alarm engine evaluates it).

    rule := or
    or   := and ("OR" and)*
    and  := not ("AND" not)*
    not  := "NOT" not | atom
    atom := "(" rule ")" | "TRUE" | "FALSE" | STATE "(" alarm ")"
    STATE := "ALARM" | "OK" | "INSUFFICIENT_DATA"

An alarm is its name or ARN, in double quotes when it has spaces or parentheses, as AWS
writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
# AWS: a rule may name at most 100 alarms.
MAX_CHILDREN = 100


class RuleError(ValueError):
    """The rule does not parse; the message says where."""


@dataclass(frozen=True, slots=True)
class StateIs:
    state: str
    alarm: str  # the child's name (an ARN is reduced to its name)


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Op:
    kind: str  # AND | OR
    operands: tuple[Node, ...]


Node = StateIs | Const | Not | Op


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(c)
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise RuleError(f"Unterminated quoted alarm name at position {i}")
            out.append(text[i : end + 1])
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "()":
                j += 1
            out.append(text[i:j])
            i = j
    return out


def child_name(ref: str) -> str:
    """An alarm reference of a rule: the name itself, or the name an alarm ARN ends with."""
    if ref.startswith("arn:") and ":alarm:" in ref:
        return ref.split(":alarm:", 1)[1]
    return ref


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise RuleError("Unexpected end of the alarm rule")
        if expected is not None and token != expected:
            raise RuleError(f"Expected '{expected}' but found '{token}'")
        self.pos += 1
        return token

    def rule(self) -> Node:
        return self._joined("OR", self._and)

    def _and(self) -> Node:
        return self._joined("AND", self._not)

    def _joined(self, kind: str, part: Callable[[], Node]) -> Node:
        operands: list[Node] = [part()]
        while self.peek() == kind:
            self.take()
            operands.append(part())
        return operands[0] if len(operands) == 1 else Op(kind, tuple(operands))

    def _not(self) -> Node:
        if self.peek() == "NOT":
            self.take()
            return Not(self._not())
        return self._atom()

    def _atom(self) -> Node:
        token = self.take()
        if token == "(":
            inner = self.rule()
            self.take(")")
            return inner
        if token in ("TRUE", "FALSE"):
            return Const(token == "TRUE")
        if token in STATES:
            self.take("(")
            ref = self.take()
            if ref == ")":
                raise RuleError(f"{token}() needs an alarm name or ARN")
            if ref.startswith('"'):
                ref = ref[1:-1]
            if not ref.strip():
                raise RuleError(f"{token}() needs an alarm name or ARN")
            self.take(")")
            return StateIs(token, child_name(ref))
        raise RuleError(f"Unexpected token '{token}'")


def parse(text: str) -> Node:
    """The rule's tree, or RuleError."""
    parser = _Parser(_tokens(text))
    if parser.peek() is None:
        raise RuleError("The alarm rule is empty")
    node = parser.rule()
    extra = parser.peek()
    if extra is not None:
        raise RuleError(f"Unexpected token '{extra}'")
    return node


def children(node: Node) -> set[str]:
    """The names of the alarms the rule refers to."""
    if isinstance(node, StateIs):
        return {node.alarm}
    if isinstance(node, Not):
        return children(node.operand)
    if isinstance(node, Op):
        return set().union(*(children(o) for o in node.operands))
    return set()


def value(node: Node, states: Mapping[str, str]) -> bool:
    """The rule over the children's states; an alarm that no longer exists is in no state."""
    if isinstance(node, StateIs):
        return states.get(node.alarm) == node.state
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Not):
        return not value(node.operand, states)
    if node.kind == "AND":
        return all(value(o, states) for o in node.operands)
    return any(value(o, states) for o in node.operands)
