"""The hot read of GetObject and HeadObject: bucket and version in one query.

Through the ORM this took two sessions' worth of work (a bucket get, then a version select),
about two thirds of a small GET's server time. Here one Core statement, compiled once per
dialect, joins the bucket to the version and runs on the driver's connection; the row comes
back as transient instances that no session tracks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, select, true
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import class_mapper

from mallee.store import Store
from mallee.store.tables.s3 import S3Bucket, S3Object

T = TypeVar("T")
_BUCKETS = S3Bucket.__table__
_OBJECTS = S3Object.__table__
# Bucket columns the readers need, labelled apart from the version's same-named ones.
_BUCKET_COLUMNS = {
    "b_name": "name",
    "b_account_id": "account_id",
    "b_versioning": "versioning",
    "b_acl": "acl",
}


def _statement(by_version: bool, with_data: bool) -> Select[Any]:
    objects = _OBJECTS.c
    on = and_(objects.bucket == _BUCKETS.c.name, objects.key == bindparam("key"))
    if by_version:
        on = and_(on, objects.version_id == bindparam("version"))
    else:
        on = and_(on, objects.is_latest == true())
    wanted = [c for c in objects if with_data or c.name != "data"]
    labelled = [_BUCKETS.c[column].label(label) for label, column in _BUCKET_COLUMNS.items()]
    return (
        select(*labelled, *wanted)
        .select_from(_BUCKETS.outerjoin(_OBJECTS, on))
        .where(_BUCKETS.c.name == bindparam("bucket"))
    )


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as its dialect's driver takes it, and how to read its rows back."""

    sql: str
    # Bind names in the order of a positional paramstyle's placeholders (None: by name).
    positions: tuple[str, ...] | None
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    selected = list(statement.selected_columns)
    return _Compiled(
        compiled.string,
        tuple(compiled.positiontup) if compiled.positiontup is not None else None,
        tuple(str(c.key) for c in selected),
        tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected),
    )


_OBJECT_COLUMNS = tuple(c.name for c in _OBJECTS.c)
# (dialect name, which statement) -> compiled statement.
_COMPILED: dict[tuple[str, Any], _Compiled] = {}


def _compiled(engine: Engine, by_version: bool, with_data: bool) -> _Compiled:
    key = (engine.dialect.name, (by_version, with_data))
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = _compile(_statement(by_version, with_data), engine.dialect)
    return found


def _fetch(engine: Engine, compiled: _Compiled, params: dict[str, Any]) -> dict[str, Any] | None:
    """The first row, columns by name, converted as SQLAlchemy would convert them.

    Straight on the driver's connection: SQLAlchemy's execution and result layers cost ten
    times the query itself here. One SELECT reads one consistent snapshot on its own (SQLite
    runs it in autocommit mode; elsewhere the pool rolls the connection back on return)."""
    args: Any = params
    if compiled.positions is not None:
        args = tuple(params[name] for name in compiled.positions)
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(compiled.sql, args)
            raw = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        conn.close()
    if raw is None:
        return None
    return {
        name: value if convert is None or value is None else convert(value)
        for name, convert, value in zip(compiled.columns, compiled.processors, raw, strict=True)
    }


_BUCKET_ONLY = select(
    *[_BUCKETS.c[column].label(label) for label, column in _BUCKET_COLUMNS.items()]
).where(_BUCKETS.c.name == bindparam("bucket"))


def bucket(store: Store, name: str) -> S3Bucket | None:
    """The bucket (name, account_id, versioning and acl only; transient), or None."""
    engine = store.read_engine
    key = (engine.dialect.name, "bucket")
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _compile(_BUCKET_ONLY, engine.dialect)
    row = _fetch(engine, compiled, {"bucket": name})
    return _bucket(row) if row is not None else None


def _bucket(row: dict[str, Any]) -> S3Bucket:
    return _transient(S3Bucket, {c: row[label] for label, c in _BUCKET_COLUMNS.items()})


def bucket_and_version(
    store: Store, bucket: str, key: str, version_id: str | None, with_data: bool = False
) -> tuple[S3Bucket | None, S3Object | None]:
    """(bucket, version): the key's latest version or the one named (None when there is no
    such version; both None without the bucket). The bucket carries only name, account_id,
    versioning and acl; the version's data only when `with_data`. Both are transient: no
    session knows them."""
    engine = store.read_engine
    compiled = _compiled(engine, version_id is not None, with_data)
    row = _fetch(engine, compiled, {"bucket": bucket, "key": key, "version": version_id})
    if row is None:
        return None, None
    found = _bucket(row)
    if row["version_id"] is None:  # the outer join found no version
        return found, None
    version = {name: row[name] for name in _OBJECT_COLUMNS if name in row}
    version.setdefault("data", None)
    return found, _transient(S3Object, version)


def _transient(cls: type[T], values: dict[str, Any]) -> T:
    """An instance holding `values`, made as the ORM's loader makes them (straight into the
    instance dict): the mapped constructor's per-attribute events cost more than the query."""
    instance: T = class_mapper(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    return instance
