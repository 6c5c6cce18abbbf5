"""Rows the store is seeded with, as data files: a migration writes them and the service that
answers for them reads the same file, so neither imports the other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


def aws_managed_policies() -> list[dict[str, Any]]:
    """The AWS managed policies (services/iam/aws_managed.py says what they are)."""
    found: list[dict[str, Any]] = json.loads((_HERE / "aws_managed_policies.json").read_text())
    return found
