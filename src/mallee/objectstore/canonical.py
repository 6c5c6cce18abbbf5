"""An account's S3 canonical user id: what ACLs and owners name, for the S3 API and for
whoever else writes objects (the nodes' ELB access logs)."""

from __future__ import annotations

import hashlib


def canonical_id(account_id: str) -> str:
    """The account's S3 canonical user id (64 hex digits, stable)."""
    return hashlib.sha256(f"mallee-canonical:{account_id}".encode()).hexdigest()
