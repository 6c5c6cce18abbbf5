"""Hot statements compiled once per dialect and run straight on the driver's connection.

SQLAlchemy's execution and result layers cost ~20 us per statement here, twenty times what
SQLite takes to run a keyed read. The few statements every RunInstances or small GET makes
are built once as Core statements (so one text serves SQLite and PostgreSQL) and run here
with the driver's own cursor, inside whatever transaction the caller's connection is in.
Values go through the column types' bind and result processors, as through SQLAlchemy.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnDefault, Executable, Table, bindparam, insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import class_mapper
from sqlalchemy.sql import visitors
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


@dataclass(slots=True)
class _Compiled:
    dialect: Dialect
    sql: str
    # The parameters' names, in the order of a positional paramstyle's placeholders.
    positions: tuple[str, ...]
    # Whether the driver takes them by name (a mapping) instead.
    named: bool
    # The names a caller may give.
    binds: frozenset[str]
    # Values of the literals the statement was built with (overridden by the caller's).
    fixed: Mapping[str, Any]
    # Bind processors of the parameters that have one.
    binders: Mapping[str, Callable[[Any], Any]]
    # The row class's constructor from an iterable (a namedtuple per statement).
    row: Callable[[Iterable[Any]], Any]
    types: tuple[TypeEngine[Any], ...]
    # Result processors, known once the driver has described a result (PostgreSQL's depend
    # on the column's wire type).
    readers: tuple[Processor, ...] | None = None

    def arguments(self, values: Mapping[str, Any]) -> Any:
        unknown = values.keys() - self.binds
        if unknown:  # a misspelt parameter would otherwise go unnoticed
            raise TypeError(f"no such parameter in the statement: {', '.join(sorted(unknown))}")
        merged = {**self.fixed}
        for name, value in values.items():
            bind = self.binders.get(name)
            merged[name] = value if bind is None or value is None else bind(value)
        if self.named:
            return {name: merged[name] for name in self.positions}
        return tuple(merged[name] for name in self.positions)

    def many(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """`arguments` of each row, planned once (a bulk write's thousands of rows: the
        per-row checks and merges cost more than SQLite's step)."""
        if not rows:
            return []
        for row in rows:
            if row.keys() - self.binds:
                self.arguments(row)  # raises, naming the unknown parameter
        fixed = self.fixed
        pick = itemgetter(*self.positions)
        binders = self.binders
        binds = [(i, binders[name]) for i, name in enumerate(self.positions) if name in binders]
        out = []
        single = len(self.positions) == 1  # itemgetter of one name gives the value itself
        for row in rows:
            picked = pick({**fixed, **row})
            values = [picked] if single else list(picked)
            for i, bind in binds:
                if values[i] is not None:
                    values[i] = bind(values[i])
            out.append(dict(zip(self.positions, values, strict=True)) if self.named else values)
        return out

    def make_rows(self, description: Sequence[Any], raws: Iterable[Sequence[Any]]) -> list[Any]:
        readers = self.readers
        if readers is None:
            d = self.dialect
            readers = self.readers = tuple(
                t.dialect_impl(d).result_processor(d, column[1])
                for t, column in zip(self.types, description, strict=True)
            )
        return [
            self.row(
                value if read is None or value is None else read(value)
                for read, value in zip(readers, raw, strict=True)
            )
            for raw in raws
        ]


def _compile(statement: Any, dialect: Dialect) -> _Compiled:
    # The text with literal lists (IN) expanded, which needs every parameter to have a value:
    # the caller's parameters get a stand-in, replaced at each run.
    wanted = {
        b.key for b in visitors.iterate(statement) if isinstance(b, BindParameter) and b.required
    }
    compiled = statement.compile(dialect=dialect)
    expanded = compiled.construct_expanded_state(dict.fromkeys(wanted))
    # Each (expanded) parameter's bind processor, as its column type gives it.
    origin = {new: old for old, news in expanded.parameter_expansion.items() for new in news}
    binders = {}
    for name in expanded.parameters:
        bind = compiled.binds[origin.get(name, name)]
        binders[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
    fixed = {
        name: value if value is None or binders[name] is None else binders[name](value)
        for name, value in expanded.parameters.items()
        if name not in wanted
    }
    selected = list(getattr(statement, "selected_columns", ()))
    return _Compiled(
        dialect=dialect,
        sql=expanded.statement,
        positions=tuple(expanded.positiontup or expanded.parameters),
        named=expanded.positiontup is None,
        binds=frozenset(wanted),
        fixed=fixed,
        binders={name: bind for name, bind in binders.items() if bind is not None},
        row=namedtuple("Row", [str(c.key) for c in selected], rename=True)._make,  # type: ignore[attr-defined]
        types=tuple(c.type for c in selected),
    )


class Prepared:
    """One statement (bound parameters by name), compiled on first use for each dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found

    def all(self, conn: Connection | Engine, **values: Any) -> list[Any]:
        """The rows (attributes by column name). On a Connection: in its transaction. On an
        Engine: on a pooled connection of its own, where one SELECT reads one snapshot by
        itself (SQLite runs it in autocommit mode; elsewhere the pool rolls back on return)."""
        compiled = self.compiled_for(conn.dialect)
        with _cursor(conn) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(values))
            raws = cursor.fetchall()
            return compiled.make_rows(cursor.description, raws) if raws else []

    def tuples(self, conn: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """The driver's rows as they come (no row class, no result processors), for a
        statement of many rows whose columns need none: numbers and text."""
        compiled = self.compiled_for(conn.dialect)
        with _cursor(conn) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(values))
            return list(cursor.fetchall())

    def first(self, conn: Connection | Engine, **values: Any) -> Any:
        """The first row or None (the statement should ask for one row at most)."""
        rows = self.all(conn, **values)
        return rows[0] if rows else None

    def run(self, conn: Connection, **values: Any) -> int:
        """Run an UPDATE or DELETE in `conn`'s transaction; the number of rows it matched."""
        compiled = self.compiled_for(conn.dialect)
        with _cursor(conn) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(values))
            return int(cursor.rowcount)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT/UPDATE once per parameter set in one driver call (the statement is
        prepared once; SQLite steps it in C, psycopg pipelines it)."""
        if not rows:
            return
        compiled = self.compiled_for(conn.dialect)
        with _cursor(conn) as cursor:
            cursor.executemany(compiled.sql, compiled.many(rows))


def detached(cls: type[T], row: Any) -> T:
    """An instance of mapped `cls` holding a prepared row's columns, made as the ORM's loader
    makes them (straight into the instance dict: the mapped constructor's per-attribute events
    cost more than the query). No session knows it, as after a read session has closed."""
    instance: T = class_mapper(cls).class_manager.new_instance()
    instance.__dict__.update(row._asdict() if hasattr(row, "_asdict") else row)
    return instance


class InsertMany:
    """INSERT of whole rows into one table; columns a row leaves out take their scalar default
    (or NULL), as a Core insert would give them."""

    def __init__(self, table: Any) -> None:
        self.table: Table = table
        self._defaults = {c.name: _default(c) for c in self.table.columns}
        # Parameter names differ from the columns': Core keeps those for its own VALUES.
        self._prepared = Prepared(
            insert(self.table).values(
                {c.name: bindparam(f"v_{c.name}", type_=c.type) for c in self.table.columns}
            )
        )

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._prepared.compiled_for(conn.dialect)
        args = [
            compiled.arguments({f"v_{k}": v for k, v in {**self._defaults, **row}.items()})
            for row in rows
        ]
        with _cursor(conn) as cursor:
            cursor.executemany(compiled.sql, args)


def _default(column: Any) -> Any:
    """What a row that leaves `column` out inserts: its scalar default, else NULL. Every
    column is sent, so one the database fills (a server default, a serial key) cannot be."""
    default = column.default
    if isinstance(default, ColumnDefault) and default.is_scalar:
        return default.arg
    if default is not None:
        raise ValueError(f"column {column.name}: only scalar defaults are filled in by InsertMany")
    if column.server_default is not None or column is column.table._autoincrement_column:
        raise ValueError(f"column {column.name}: the database fills it; InsertMany sends it")
    return None


@contextmanager
def _cursor(conn: Connection | Engine) -> Iterator[Any]:
    """A driver cursor on `conn` (a Connection's own, or a pooled one for an Engine). The
    driver's errors come out as SQLAlchemy raises them (IntegrityError, OperationalError, ...),
    which is what callers catch; a connection the database dropped is not used again."""
    dialect = conn.dialect
    pooled = None if isinstance(conn, Connection) else conn.raw_connection()
    raw: Any = pooled if pooled is not None else conn.connection  # type: ignore[union-attr]
    cursor = raw.cursor()
    try:
        yield cursor
    except dialect.loaded_dbapi.Error as err:
        gone = dialect.is_disconnect(err, raw, cursor)
        if gone:
            if pooled is not None:
                pooled.invalidate(err)
            else:
                conn.invalidate(err)  # type: ignore[union-attr]
        raise DBAPIError.instance(
            None,
            None,
            err,
            dialect.loaded_dbapi.Error,
            connection_invalidated=gone,
            dialect=dialect,
        ) from err
    finally:
        cursor.close()
        if pooled is not None:
            pooled.close()
