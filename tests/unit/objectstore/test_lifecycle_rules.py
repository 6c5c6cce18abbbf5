"""The lifecycle rule model: matching, due dates, expiration kinds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mallee.objectstore.lifecycle_rules import due, rule_from, rules
from mallee.services.s3.lifecycle import check_rule

T0 = datetime(2030, 3, 10, 15, 30, tzinfo=UTC)


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {}, **extra}


def test_due_rounds_up_to_midnight() -> None:
    # S3's own example: created 10:30 on the 15th, 3 days -> midnight starting the 19th.
    assert due(datetime(2014, 1, 15, 10, 30, tzinfo=UTC), 3) == datetime(2014, 1, 19, tzinfo=UTC)
    assert due(datetime(2014, 1, 15, tzinfo=UTC), 1) == datetime(2014, 1, 16, tzinfo=UTC)
    # SQLite hands back naive datetimes: they are UTC.
    assert due(datetime(2014, 1, 15, 23, 59), 1) == datetime(2014, 1, 17, tzinfo=UTC)


def test_matching() -> None:
    flt = {"And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "1"}]}}
    r = rule_from(check_rule(rule(Filter=flt, Expiration={"Days": 1})))
    assert r.matches("logs/x", 5, {"a": "1", "b": "2"})
    assert not r.matches("logs/x", 5, {"a": "2"})
    assert not r.matches("other/x", 5, {"a": "1"})
    sized = {"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}}
    r = rule_from(check_rule(rule(Filter=sized, Expiration={"Days": 1})))
    assert [r.matches("k", n, {}) for n in (10, 11, 19, 20)] == [False, True, True, False]
    legacy = check_rule({"Status": "Disabled", "Prefix": "p/", "Expiration": {"Days": 1}})
    r = rule_from(legacy)
    assert r.prefix == "p/" and not r.enabled and r.id
    tagged = rule(Filter={"Tag": {"Key": "k", "Value": "v"}}, Expiration={"Days": 1})
    assert rule_from(check_rule(tagged)).tags == {"k": "v"}


def test_expiration_kinds() -> None:
    r = rule_from(check_rule(rule(Expiration={"Days": 2})))
    assert not r.current_expired(T0, datetime(2030, 3, 12, 23, tzinfo=UTC))
    assert r.current_expired(T0, datetime(2030, 3, 13, tzinfo=UTC))
    dated = check_rule(rule(Expiration={"Date": datetime(2030, 4, 1, tzinfo=UTC)}))
    r = rules(json.dumps([dated]))[0]
    assert r.date == datetime(2030, 4, 1, tzinfo=UTC)
    assert not r.current_expired(T0, datetime(2030, 3, 31, tzinfo=UTC))
    assert r.current_expired(T0, datetime(2030, 4, 1, tzinfo=UTC))
