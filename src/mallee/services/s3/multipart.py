"""S3 multipart: operations of this family are added here (see provider.py)."""

from __future__ import annotations

from mallee.services.s3.common import S3Base


class MultipartApi(S3Base):
    """No operations yet: calls for them are answered InvalidAction until they land."""
