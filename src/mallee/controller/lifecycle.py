"""Applies S3 bucket lifecycle rules: expiration, noncurrent versions, delete markers, uploads.

Each bucket with enabled rules is walked key by key in batches; one batch is one transaction
(the bucket row locked, as writes through the API lock it), and the blobs it freed are deleted
only after that commit, so a crash leaves at worst an unreferenced blob, never a row without
data. Running it again finds nothing more to do: every step is decided from the rows alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.config import Settings
from mallee.objectstore import versions
from mallee.objectstore.backends import Backend, make_backend
from mallee.objectstore.lifecycle_rules import Rule, aware, due, rules
from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket, S3Object, S3Part, S3Upload

# Seconds between runs from the controller's tick: rules count in days.
INTERVAL = 60.0
BATCH = 500


@dataclass
class Outcome:
    expired: int = 0
    noncurrent: int = 0
    markers: int = 0
    aborted: int = 0


def run(store: Store, settings: Settings, now: datetime | None = None) -> Outcome:
    """One pass over every bucket's enabled rules, as of `now` (default: the clock)."""
    configured = _configured(store)
    if not configured:
        # Without rules there is no need for the object backend (nor its directories).
        return Outcome()
    return apply(store, make_backend(settings, store), now, configured)


def _configured(store: Store) -> list[tuple[str, str]]:
    with store.read() as s:
        rows = s.execute(
            select(S3Bucket.name, S3Bucket.lifecycle).where(S3Bucket.lifecycle.is_not(None))
        ).all()
    return [(str(name), str(text)) for name, text in rows]


def apply(
    store: Store,
    backend: Backend,
    now: datetime | None = None,
    configured: list[tuple[str, str]] | None = None,
) -> Outcome:
    now = aware(now or datetime.now(UTC))
    outcome = Outcome()
    for name, text in _configured(store) if configured is None else configured:
        for rule in rules(text):
            if rule.enabled:
                _apply_rule(store, backend, name, rule, now, outcome)
    return outcome


def _apply_rule(
    store: Store, backend: Backend, bucket: str, rule: Rule, now: datetime, outcome: Outcome
) -> None:
    if rule.days is not None or rule.date is not None:
        outcome.expired += _walk(store, backend, bucket, rule, now, _expired_current)
    if rule.noncurrent_days is not None:
        outcome.noncurrent += _walk(store, backend, bucket, rule, now, _expired_noncurrent)
    if rule.expired_marker:
        outcome.markers += _walk(store, backend, bucket, rule, now, _lone_marker)
    if rule.abort_days is not None:
        outcome.aborted += _abort_uploads(store, backend, bucket, rule, now)


# A step picks, from one key's versions (newest first), those its rule acts on: the
# current version to expire, noncurrent versions to remove, a lone delete marker. Picking
# reads only, so batches with nothing to do never take the write lock.
Pick = Callable[[Rule, datetime, list[S3Object]], list[S3Object]]


def _walk(
    store: Store, backend: Backend, bucket: str, rule: Rule, now: datetime, pick: Pick
) -> int:
    done, cursor = 0, ""
    while True:
        with store.read() as s:
            keys = _keys_after(s, bucket, rule.prefix, cursor)
            wanted = [
                group[0].key for group in _versions_of(s, bucket, keys) if pick(rule, now, group)
            ]
        if not keys:
            return done
        if wanted:
            count, freed = _act(store, bucket, rule, now, pick, wanted)
            _free(backend, freed)
            done += count
        cursor = keys[-1]


def _act(
    store: Store, bucket: str, rule: Rule, now: datetime, pick: Pick, keys: list[str]
) -> tuple[int, list[str]]:
    """Acts on the picked keys in one transaction, picking again under the bucket lock (an API
    write may have come in between): (versions acted on, blobs freed after the commit)."""
    done, freed = 0, []
    with store.session() as s:
        locked = s.scalars(
            select(S3Bucket).where(S3Bucket.name == bucket).with_for_update()
        ).first()
        if locked is None:
            return 0, []
        for group in _versions_of(s, bucket, keys):
            for row in pick(rule, now, group):
                if row.is_latest and not row.delete_marker and locked.versioning:
                    # Expiring the current version of a versioned key hides it behind a marker.
                    owner = locked.account_id
                    freed += versions.add_delete_marker(s, locked, row.key, owner, now)[1]
                else:
                    freed += versions.remove_version(s, row)
                done += 1
    return done, freed


def _keys_after(s: Session, bucket: str, prefix: str, cursor: str) -> list[str]:
    query = select(S3Object.key).where(
        S3Object.bucket == bucket, S3Object.is_latest.is_(True), S3Object.key > cursor
    )
    if prefix:
        query = query.where(S3Object.key.startswith(prefix, autoescape=True))
    return list(s.scalars(query.order_by(S3Object.key).limit(BATCH)).all())


def _versions_of(s: Session, bucket: str, keys: list[str]) -> list[list[S3Object]]:
    if not keys:
        return []
    rows = s.scalars(
        select(S3Object)
        .where(S3Object.bucket == bucket, S3Object.key.in_(keys))
        .order_by(S3Object.key, S3Object.sequence.desc())
    ).all()
    grouped: dict[str, list[S3Object]] = {}
    for row in rows:
        grouped.setdefault(row.key, []).append(row)
    return list(grouped.values())


def _tags(row: S3Object) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in json.loads(row.tagging)} if row.tagging else {}


def _expired_current(rule: Rule, now: datetime, group: list[S3Object]) -> list[S3Object]:
    """The current version, once past the rule's Expiration."""
    current = group[0]
    if not current.is_latest or current.delete_marker:
        return []
    if not rule.matches(current.key, current.size, _tags(current)):
        return []
    return [current] if rule.current_expired(current.last_modified, now) else []


def _expired_noncurrent(rule: Rule, now: datetime, group: list[S3Object]) -> list[S3Object]:
    """Noncurrent versions NoncurrentDays after they stopped being current, that is after the
    next newer version was written; the newest `keep_noncurrent` of them stay."""
    assert rule.noncurrent_days is not None
    out = []
    for rank, (newer, row) in enumerate(pairwise(group)):
        if rank < rule.keep_noncurrent or not rule.matches(row.key, row.size, _tags(row)):
            continue
        if due(newer.last_modified, rule.noncurrent_days) <= now:
            out.append(row)
    return out


def _lone_marker(rule: Rule, now: datetime, group: list[S3Object]) -> list[S3Object]:
    """A delete marker that is its key's only version hides nothing: S3 calls it expired."""
    if len(group) == 1 and group[0].delete_marker and rule.matches(group[0].key, 0, {}):
        return group
    return []


def _abort_uploads(store: Store, backend: Backend, bucket: str, rule: Rule, now: datetime) -> int:
    assert rule.abort_days is not None
    # Only uploads older than this can be due; the exact check rounds to midnight as S3 does.
    before = now - timedelta(days=rule.abort_days)
    done, cursor = 0, ""
    while True:
        with store.read() as s:
            query = select(S3Upload.upload_id, S3Upload.initiated_at).where(
                S3Upload.bucket == bucket,
                S3Upload.initiated_at <= before,
                S3Upload.upload_id > cursor,
            )
            if rule.prefix:
                query = query.where(S3Upload.key.startswith(rule.prefix, autoescape=True))
            uploads = s.execute(query.order_by(S3Upload.upload_id).limit(BATCH)).all()
        if not uploads:
            return done
        stale = [str(u) for u, started in uploads if due(started, rule.abort_days) <= now]
        if stale:
            with store.session() as s:
                # Parts read in the deleting transaction: one added since is freed too.
                freed = list(s.scalars(select(S3Part.blob_id).where(S3Part.upload_id.in_(stale))))
                s.execute(delete(S3Part).where(S3Part.upload_id.in_(stale)))
                gone = s.execute(delete(S3Upload).where(S3Upload.upload_id.in_(stale)))
            _free(backend, freed)
            done += int(getattr(gone, "rowcount", 0) or 0)
        cursor = str(uploads[-1][0])


def _free(backend: Backend, blob_ids: Iterable[str]) -> None:
    for blob_id in blob_ids:
        backend.delete(blob_id)
