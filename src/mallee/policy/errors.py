"""The one error the policy engine raises; the IAM layer maps it to MalformedPolicyDocument."""

from __future__ import annotations


class PolicyError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
