"""Glob matching for policy patterns: `*` (any run, also empty) and `?` (one character).

Patterns are split once on `*` into literal segments. A string matches when the first segment is
a prefix, the last a suffix, and the middle segments occur in order between them; taking each
middle segment at its leftmost position is always optimal, so there is no backtracking and the
cost is O(len(text) * len(pattern)) at worst (O(len(text)) with C's str.find when a segment has
no `?`). Pathological patterns such as `a*a*a*a*b` stay linear-ish instead of exponential.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


def _segment_at(text: str, pos: int, seg: str) -> bool:
    """Does `seg` (may contain `?`) match text[pos : pos + len(seg)]?"""
    if pos + len(seg) > len(text):
        return False
    if "?" not in seg:
        return text.startswith(seg, pos)
    return all(ch == "?" or text[pos + i] == ch for i, ch in enumerate(seg))


def _find(text: str, seg: str, start: int, end: int) -> int:
    """Leftmost position >= start where `seg` matches wholly before `end`, or -1."""
    if "?" not in seg:
        return text.find(seg, start, end)
    last = end - len(seg)
    for pos in range(start, last + 1):
        if _segment_at(text, pos, seg):
            return pos
    return -1


@dataclass(frozen=True, slots=True)
class Wildcard:
    pattern: str
    ignore_case: bool
    segments: tuple[str, ...]
    has_star: bool

    def matches(self, text: str) -> bool:
        if self.ignore_case:
            text = text.lower()
        segs = self.segments
        if not self.has_star:
            return len(text) == len(segs[0]) and _segment_at(text, 0, segs[0])
        head, tail = segs[0], segs[-1]
        if len(head) + len(tail) > len(text):
            return False
        if not _segment_at(text, 0, head):
            return False
        tail_start = len(text) - len(tail)
        if not _segment_at(text, tail_start, tail):
            return False
        pos = len(head)
        for seg in segs[1:-1]:
            if not seg:
                continue
            found = _find(text, seg, pos, tail_start)
            if found < 0:
                return False
            pos = found + len(seg)
        return True


@functools.lru_cache(maxsize=8192)
def compile_wildcard(pattern: str, ignore_case: bool = False) -> Wildcard:
    source = pattern.lower() if ignore_case else pattern
    segments = tuple(source.split("*"))
    return Wildcard(pattern, ignore_case, segments, len(segments) > 1)


def wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    if pattern == "*":
        return True
    return compile_wildcard(pattern, ignore_case).matches(text)
