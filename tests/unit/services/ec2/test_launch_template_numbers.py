"""How a request's launch template version reads as a number: ASCII digits only, within what
the version column holds (anything else is AWS's InvalidParameterValue, never a 500)."""

from __future__ import annotations

import pytest

from mallee.api.errors import ServiceError
from mallee.services.ec2 import launch_template_rows as rows
from mallee.store.tables.launch_templates import Ec2LaunchTemplate


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", 1),
        ("0042", 42),
        (str(2**31 - 1), 2**31 - 1),
        ("²", None),
        ("\u0661", None),  # ARABIC-INDIC DIGIT ONE
        ("", None),
        ("-1", None),
        ("1.0", None),
        (str(2**31), None),
        ("9" * 40, None),
    ],
)
def test_numeral(text: str, number: int | None) -> None:
    assert rows.numeral(text) == number


def test_a_version_number_is_named_or_refused() -> None:
    template = Ec2LaunchTemplate(id="lt-0123456789abcdef0", default_version=2, latest_version=3)
    assert rows.number(template, None) == 2
    assert rows.number(template, "$Latest") == 3
    assert rows.number(template, "7") == 7
    for bad in ("²", "0", "9" * 40, "$Oldest"):
        with pytest.raises(ServiceError) as err:
            rows.number(template, bad)
        assert (err.value.code, err.value.status) == ("InvalidParameterValue", 400)
