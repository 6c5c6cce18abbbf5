"""Tag validation and the x-amz-tagging header, as S3 checks them."""

from __future__ import annotations

import json

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.tagging import check_tags, from_header, tag_count


def test_header_is_a_url_encoded_query_string() -> None:
    stored = from_header("a=1&b%20c=d%2Fe&empty=")
    assert stored is not None
    assert json.loads(stored) == [
        {"Key": "a", "Value": "1"},
        {"Key": "b c", "Value": "d/e"},
        {"Key": "empty", "Value": ""},
    ]
    assert tag_count(stored) == 3
    assert from_header(None) is None and from_header("") is None


@pytest.mark.parametrize(
    "header",
    [
        "&".join(f"k{i}=v" for i in range(11)),
        "a=1&a=2",
        "=value",
        "k=" + "v" * 257,
        "aws%3Aname=v",
        "k=bad%23char",
    ],
)
def test_bad_headers(header: str) -> None:
    with pytest.raises(ServiceError) as err:
        from_header(header)
    assert (err.value.code, err.value.status) == ("InvalidTag", 400)


def test_limits() -> None:
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert len(check_tags(fifty, 50, "Bucket")) == 50
    with pytest.raises(ServiceError):
        check_tags([*fifty, {"Key": "x", "Value": "y"}], 50, "Bucket")
    assert check_tags([{"Key": "k" * 128, "Value": "é ü+-=._:/@"}], 10, "Object")
