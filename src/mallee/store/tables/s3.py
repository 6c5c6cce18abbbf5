"""Object Storage Gateway metadata: buckets, object versions, multipart uploads and parts.

Object data lives in a backend (objectstore/backends) under opaque blob ids; a row here is
written only once its blob is durable, so a crash leaves at worst an unreferenced blob (swept
later), never a row without data. Small objects keep their bytes in the row itself instead
(`S3Object.data`, see services/s3/data.py): one committed transaction then makes the whole
write durable. Keys sort bytewise, as S3 lists them: PostgreSQL is told so
with the "C" collation; SQLite compares bytes by default.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base

_ACCOUNT = "iam_accounts.id"
# S3 keys are up to 1024 bytes of UTF-8.
Key = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class S3Bucket(Base):
    __tablename__ = "s3_buckets"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete="CASCADE"))
    region: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "" (never enabled), "Enabled" or "Suspended".
    versioning: Mapped[str] = mapped_column(String(16), default="")
    # Access control list as JSON: {"owner": account, "grants": [{grantee, permission}]}.
    acl: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # Stored configurations, as the XML-derived JSON the API returns.
    cors: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    lifecycle: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    tagging: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # Bucket settings; None: never set, the bucket answers AWS's default for it.
    # "BucketOwner" or "Requester" (PutBucketRequestPayment).
    request_payer: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    # ServerSideEncryptionConfiguration rules, as JSON (None: SSE-S3, AWS's default).
    encryption: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # PublicAccessBlockConfiguration's four flags, as JSON.
    public_access_block: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # ObjectOwnership: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter.
    ownership: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    # LoggingEnabled and WebsiteConfiguration, as JSON.
    logging: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    website: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # Transfer acceleration Status ("Suspended": nothing is accelerated here).
    accelerate: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)


class S3Object(Base):
    """One version of an object (the only one while versioning was never enabled).

    `version_id` is "null" for versions written while versioning is off or suspended, as S3
    reports them. Exactly one version per key has `is_latest`.
    """

    __tablename__ = "s3_objects"
    __table_args__ = (
        Index("ix_s3_objects_latest", "bucket", "is_latest", "key"),
        Index("ix_s3_objects_blob", "blob_id"),
    )

    bucket: Mapped[str] = mapped_column(
        String(255), ForeignKey("s3_buckets.name", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Key, primary_key=True)
    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_latest: Mapped[bool] = mapped_column(default=True)
    delete_marker: Mapped[bool] = mapped_column(default=False)
    # Who wrote it (the object owner in ACL terms).
    account_id: Mapped[str] = mapped_column(String(12))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    etag: Mapped[str] = mapped_column(String(80), default="")
    blob_id: Mapped[str | None] = mapped_column(String(80), nullable=True, default=None)
    # The bytes of a small object (no blob then). Deferred: listings and metadata reads load
    # many rows and never the data; readers of the bytes ask for it (undefer).
    data: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True, default=None, deferred=True
    )
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Content-Type, Content-Encoding, ..., x-amz-meta-*, checksums: JSON object.
    headers: Mapped[str] = mapped_column(Text, default="{}")
    acl: Mapped[str] = mapped_column(Text, default="")
    tagging: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    storage_class: Mapped[str] = mapped_column(String(32), default="STANDARD")
    # Monotonic per bucket: orders versions of a key newest first.
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)


class S3Upload(Base):
    """A multipart upload in progress."""

    __tablename__ = "s3_uploads"
    __table_args__ = (Index("ix_s3_uploads_bucket_key", "bucket", "key"),)

    upload_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket: Mapped[str] = mapped_column(
        String(255), ForeignKey("s3_buckets.name", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(Key)
    account_id: Mapped[str] = mapped_column(String(12))
    initiated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    headers: Mapped[str] = mapped_column(Text, default="{}")
    acl: Mapped[str] = mapped_column(Text, default="")
    tagging: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    storage_class: Mapped[str] = mapped_column(String(32), default="STANDARD")


class S3Part(Base):
    __tablename__ = "s3_parts"

    upload_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("s3_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(80))
    blob_id: Mapped[str] = mapped_column(String(80))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checksums: Mapped[str] = mapped_column(Text, default="{}")
