from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallee.policy import wildcard_match


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("*", "anything", True),
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a*c", "ac", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("*.txt", "dir/file.txt", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket2/a", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("*ab", "aab", True),
        ("ab*", "a", False),
        ("a*?", "a", False),
        ("a*?", "ab", True),
        ("??", "abc", False),
        ("*a?b*", "xxaxbyy", True),
    ],
)
def test_cases(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_match(pattern, text) is expected


def test_case_sensitivity() -> None:
    assert not wildcard_match("IAM:Get*", "iam:GetUser")
    assert wildcard_match("IAM:Get*", "iam:GetUser", ignore_case=True)
    assert wildcard_match("iam:getuser", "iam:GetUser", ignore_case=True)


def test_pathological_pattern_is_fast() -> None:
    pattern = "a*a*a*a*a*a*a*a*b"
    text = "a" * 100_000
    start = time.perf_counter()
    assert not wildcard_match(pattern, text)
    assert wildcard_match(pattern, text + "b")
    pattern2 = "*?*?*?*?*?*?*?*?*?*?b"
    assert not wildcard_match(pattern2, "a" * 20_000)
    assert time.perf_counter() - start < 0.5


def _reference(pattern: str, text: str) -> bool:
    """Plain dynamic programming, the obviously-correct definition."""
    n, m = len(text), len(pattern)
    dp = [[False] * (n + 1) for _ in range(m + 1)]
    dp[0][0] = True
    for i in range(1, m + 1):
        p = pattern[i - 1]
        dp[i][0] = dp[i - 1][0] and p == "*"
        for j in range(1, n + 1):
            if p == "*":
                dp[i][j] = dp[i - 1][j] or dp[i][j - 1]
            else:
                dp[i][j] = dp[i - 1][j - 1] and (p == "?" or p == text[j - 1])
    return dp[m][n]


@given(st.text(alphabet="ab*?", max_size=8), st.text(alphabet="ab", max_size=10))
def test_agrees_with_reference(pattern: str, text: str) -> None:
    assert wildcard_match(pattern, text) is _reference(pattern, text)
