"""HAProxy's `show stat` read as DescribeInstanceHealth reports instances (health.py)."""

from __future__ import annotations

import pytest

from mallee.node.lb.health import DOWN, IN, NEW, parse_stat

pytestmark = pytest.mark.nodb

HEADER = "# pxname,svname,qcur,status,check_status,check_code\n"


def test_states_of_the_health_backend_servers() -> None:
    stat = HEADER + "\n".join(
        [
            "l80,FRONTEND,,OPEN,,",
            "b80,i-aaaa,0,UP,,",  # a tracking server: not where health is read
            "hc,i-aaaa,0,UP,L7OK,200",
            "hc,i-bbbb,0,DOWN,L4CON,",
            "hc,i-cccc,0,UP 1/3,L7STS,500",  # failing, not yet past the threshold
            "hc,i-dddd,0,DOWN 1/2,L7OK,200",  # passing, not yet past the threshold
            "hc,i-eeee,0,UP,* INI,",
            "hc,BACKEND,0,UP,,",
        ]
    )
    assert parse_stat(stat) == {
        "i-aaaa": IN,
        "i-bbbb": DOWN,
        "i-cccc": IN,
        "i-dddd": DOWN,
        "i-eeee": NEW,
    }
    assert DOWN.reason_code == "Instance" and DOWN.description == (
        "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."
    )
    assert IN.reason_code == "N/A" and IN.description == "N/A"


def test_other_output_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_stat("Unknown command\n")
