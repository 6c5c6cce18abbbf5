"""Tags on users and roles (stored by entity id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mallee.services.iam.common import paginate
from mallee.services.iam.errors import invalid_input, limit_exceeded
from mallee.store.tables.iam import IamTag

MAX_TAGS = 50


def _check(tags: Any) -> list[tuple[str, str]]:
    if not isinstance(tags, list):
        raise invalid_input("Tags must be a list.")
    out: list[tuple[str, str]] = []
    for tag in tags:
        key = tag.get("Key") if isinstance(tag, dict) else None
        value = tag.get("Value", "") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise invalid_input(f"Invalid tag key: {key!r}")
        if not isinstance(value, str) or len(value) > 256:
            raise invalid_input(f"Invalid tag value for key {key}")
        out.append((key, value))
    keys = [k.lower() for k, _ in out]
    if len(set(keys)) != len(keys):
        raise invalid_input(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    return out


def put_tags(s: Session, entity_id: str, tags: Any) -> None:
    pairs = _check(tags)
    existing = {
        t.key.lower(): t for t in s.scalars(select(IamTag).where(IamTag.entity_id == entity_id))
    }
    added = {k.lower() for k, _ in pairs} - set(existing)
    if len(existing) + len(added) > MAX_TAGS:
        raise limit_exceeded(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    for key, value in pairs:
        found = existing.get(key.lower())
        if found is not None:
            # Keys are case-insensitive: the new spelling replaces the old.
            s.delete(found)
            s.flush()
        s.add(IamTag(entity_id=entity_id, key=key, value=value))


def remove_tags(s: Session, entity_id: str, keys: Any) -> None:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise invalid_input("TagKeys must be a list of strings.")
    lowered = [k.lower() for k in keys]
    s.execute(
        delete(IamTag).where(IamTag.entity_id == entity_id, func.lower(IamTag.key).in_(lowered))
    )


def tag_list(s: Session, entity_id: str) -> list[dict[str, str]]:
    rows = s.scalars(select(IamTag).where(IamTag.entity_id == entity_id).order_by(IamTag.key))
    return [{"Key": t.key, "Value": t.value} for t in rows]


def list_tags(s: Session, entity_id: str, params: dict[str, Any]) -> dict[str, Any]:
    rows, page = paginate(
        s, select(IamTag).where(IamTag.entity_id == entity_id), IamTag.key, params
    )
    return {"Tags": [{"Key": t.key, "Value": t.value} for t in rows], **page}


def drop_all(s: Session, entity_id: str) -> None:
    s.execute(delete(IamTag).where(IamTag.entity_id == entity_id))
