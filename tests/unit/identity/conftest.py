"""The authorizer is tested through IAM's harness: real accounts, users and policies made by
IAM's own operations over a migrated store."""

from tests.unit.services.iam.conftest import h

__all__ = ["h"]
