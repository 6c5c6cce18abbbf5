"""Prepared statements on the driver's connection give what SQLAlchemy's execution gives."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from mallee.store import Store
from mallee.store.prepared import InsertMany, Prepared

_META = MetaData()
_THINGS = Table(
    "prepared_things",
    _META,
    Column("id", String(16), primary_key=True),
    Column("kind", String(16), default="plain"),
    Column("size", Integer, default=0),
    Column("ratio", Float, nullable=True),
    Column("flag", Boolean, default=False),
    Column("made", DateTime, nullable=True),
)
_MADE = dt.datetime(2026, 12, 2, 7, 30, 15)

_BY_KIND = Prepared(
    select(_THINGS.c.id, _THINGS.c.size, _THINGS.c.flag, _THINGS.c.made, _THINGS.c.ratio)
    .where(_THINGS.c.kind == bindparam("kind"), _THINGS.c.size.in_([1, 2, 3]))
    .order_by(_THINGS.c.id)
)
_TOTALS = Prepared(
    select(_THINGS.c.kind, func.sum(_THINGS.c.size).label("total"))
    .where(_THINGS.c.flag == True)  # noqa: E712 - a SQL expression, not a comparison
    .group_by(_THINGS.c.kind)
    .order_by(_THINGS.c.kind)
)
_INSERT = InsertMany(_THINGS)


@pytest.fixture
def things(store: Store) -> Store:
    _META.create_all(store.engine)
    with store.session() as s:
        _INSERT.run(
            s.connection(),
            [
                {"id": "a", "kind": "big", "size": 1, "flag": True, "made": _MADE, "ratio": 0.5},
                {"id": "b", "kind": "big", "size": 2},
                {"id": "c", "kind": "big", "size": 9, "flag": True},
                {"id": "d", "size": 3, "flag": True},
            ],
        )
    return store


def test_rows_read_back_as_sqlalchemy_reads_them(things: Store) -> None:
    with things.read() as s:
        expected = s.execute(_BY_KIND.statement, {"kind": "big"}).all()
        got = _BY_KIND.all(s.connection(), kind="big")
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]
    assert [(r.id, r.size, r.flag, r.made, r.ratio) for r in got] == [
        ("a", 1, True, _MADE, 0.5),
        ("b", 2, False, None, None),  # InsertMany filled the scalar default and NULL
    ]


def test_literals_and_aggregates(things: Store) -> None:
    totals = _TOTALS.all(things.read_engine)
    assert [(r.kind, r.total) for r in totals] == [("big", 10), ("plain", 3)]


def test_first_on_an_engine_and_no_row(things: Store) -> None:
    assert _BY_KIND.first(things.read_engine, kind="plain").id == "d"
    assert _BY_KIND.first(things.read_engine, kind="none") is None


def test_inserts_belong_to_the_callers_transaction(things: Store) -> None:
    with pytest.raises(RuntimeError), things.session() as s:
        _INSERT.run(s.connection(), [{"id": "e", "kind": "gone", "size": 1}])
        raise RuntimeError("roll back")
    assert _BY_KIND.first(things.read_engine, kind="gone") is None


def test_driver_errors_come_out_as_sqlalchemy_raises_them(things: Store) -> None:
    # Callers catch SQLAlchemy's errors: RunInstances answers a ClientToken race from one.
    with pytest.raises(IntegrityError), things.session() as s:
        _INSERT.run(s.connection(), [{"id": "a"}])
    assert _BY_KIND.first(things.read_engine, kind="big").id == "a"


def test_a_none_literal_and_a_misspelt_parameter(things: Store) -> None:
    clear = Prepared(
        update(_THINGS).where(_THINGS.c.id == bindparam("ident")).values(made=None, ratio=None)
    )
    with things.session() as s:
        assert clear.run(s.connection(), ident="a") == 1
        with pytest.raises(TypeError, match="kinds"):
            _BY_KIND.all(s.connection(), kinds="big")
    found = _BY_KIND.first(things.read_engine, kind="big")
    assert (found.id, found.made, found.ratio) == ("a", None, None)


def test_defaults_it_cannot_fill_are_refused() -> None:
    table = Table("t", MetaData(), Column("id", String, primary_key=True, default=lambda: "x"))
    with pytest.raises(ValueError, match="scalar defaults"):
        InsertMany(table)
    served = Table("u", MetaData(), Column("id", String, primary_key=True, server_default="x"))
    with pytest.raises(ValueError, match="the database fills it"):
        InsertMany(served)
    serial = Table("v", MetaData(), Column("id", Integer, primary_key=True))
    with pytest.raises(ValueError, match="the database fills it"):
        InsertMany(serial)
