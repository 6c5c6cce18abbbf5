"""The lifecycle rule model: a bucket's stored rules as the controller applies them.

services/s3/lifecycle.py validates a configuration and stores it as the JSON of its rules;
the controller's lifecycle worker (controller/lifecycle.py) reads them back here, so what the
API accepts and what gets expired are read the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; everything stored is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def due(start: datetime, days: int) -> datetime:
    """When `days` after `start` falls due: S3 rounds up to the next midnight UTC."""
    moment = aware(start).astimezone(UTC) + timedelta(days=days)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)


@dataclass(frozen=True)
class Rule:
    """One stored rule, as the controller applies it."""

    id: str
    enabled: bool
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    size_gt: int | None = None
    size_lt: int | None = None
    days: int | None = None
    date: datetime | None = None
    expired_marker: bool = False
    noncurrent_days: int | None = None
    # How many of the newest noncurrent versions a NoncurrentVersionExpiration keeps.
    keep_noncurrent: int = 0
    abort_days: int | None = None

    def matches(self, key: str, size: int, tags: dict[str, str]) -> bool:
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(k) != v for k, v in self.tags.items()):
            return False
        if self.size_gt is not None and not size > self.size_gt:
            return False
        return self.size_lt is None or size < self.size_lt

    def current_expired(self, last_modified: datetime, now: datetime) -> bool:
        if self.days is not None:
            return due(last_modified, self.days) <= now
        return self.date is not None and self.date <= now


def rule_from(raw: dict[str, Any]) -> Rule:
    """A stored (already validated) rule as a Rule."""
    flt = raw.get("Filter") or {}
    both = flt.get("And") or {}
    tags = both.get("Tags") or ([flt["Tag"]] if "Tag" in flt else [])
    expiration = raw.get("Expiration") or {}
    noncurrent = raw.get("NoncurrentVersionExpiration") or {}
    date = expiration.get("Date")
    return Rule(
        id=str(raw.get("ID", "")),
        enabled=raw.get("Status") == "Enabled",
        prefix=str(raw.get("Prefix") or flt.get("Prefix") or both.get("Prefix") or ""),
        tags={str(t["Key"]): str(t["Value"]) for t in tags},
        size_gt=flt.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan")),
        size_lt=flt.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan")),
        days=expiration.get("Days"),
        date=datetime.fromisoformat(date) if date else None,
        expired_marker=bool(expiration.get("ExpiredObjectDeleteMarker")),
        noncurrent_days=noncurrent.get("NoncurrentDays"),
        keep_noncurrent=int(noncurrent.get("NewerNoncurrentVersions") or 0),
        abort_days=(raw.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
    )


def rules(text: str | None) -> list[Rule]:
    return [rule_from(raw) for raw in json.loads(text)] if text else []
