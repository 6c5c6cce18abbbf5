"""Lifecycle configurations: what PutBucketLifecycleConfiguration refuses."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.s3.lifecycle import check_configuration


def rule(**extra: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {}, **extra}


@pytest.mark.parametrize(
    ("config", "code"),
    [
        (None, "MalformedXML"),
        ({"Rules": []}, "MalformedXML"),
        ({"Rules": [rule(Expiration={"Days": -1})]}, "InvalidArgument"),
        ({"Rules": [rule(Expiration={})]}, "MalformedXML"),
        (
            {"Rules": [rule(Transitions=[{"Days": 1, "StorageClass": "GLACIER"}])]},
            "InvalidStorageClass",
        ),
        (
            {
                "Rules": [
                    rule(
                        NoncurrentVersionExpiration={
                            "NoncurrentDays": 1,
                            "NewerNoncurrentVersions": 0,
                        }
                    )
                ]
            },
            "InvalidArgument",
        ),
        (
            {
                "Rules": [
                    rule(
                        Filter={"Tag": {"Key": "k", "Value": "v"}},
                        Expiration={"ExpiredObjectDeleteMarker": True},
                    )
                ]
            },
            "InvalidRequest",
        ),
        (
            {
                "Rules": [
                    rule(
                        Filter={"And": {"ObjectSizeGreaterThan": 5, "ObjectSizeLessThan": 5}},
                        Expiration={"Days": 1},
                    )
                ]
            },
            "InvalidArgument",
        ),
    ],
)
def test_invalid_configurations(config: Any, code: str) -> None:
    with pytest.raises(ServiceError) as err:
        check_configuration(config)
    assert err.value.code == code
