"""Load service models.

A model is botocore's `service-2.json` for the service, or one of mallee's own models (same
format) under `data/<name>/<api-version>/service-2.json`, with an optional patch merged in from
`data/patches/<name>.json` (keys `operations` and `shapes`, added or replacing by name, and
`metadata`, replacing by key). That is how Eucalyptus-only operations (CreateAccount, ...) ride
on AWS's models, and where a model differs from what the service sends on the wire (EC2's XML
namespace), without the engine knowing.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

DATA_DIR = Path(__file__).parent / "data"


@functools.cache
def _loader() -> Loader:
    # Our directory first, so our own models are found; botocore's built-in data stays searched.
    return Loader(extra_search_paths=[str(DATA_DIR)])


def _patch(name: str) -> dict[str, Any] | None:
    path = DATA_DIR / "patches" / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@functools.cache
def model_dict(name: str) -> dict[str, Any]:
    """The raw model (with mallee's patch applied) for a botocore service name."""
    raw: dict[str, Any] = _loader().load_service_model(name, "service-2")
    patch = _patch(name)
    if patch is None:
        return raw
    merged = copy.deepcopy(raw)
    for key in ("operations", "shapes", "metadata"):
        merged.setdefault(key, {}).update(patch.get(key, {}))
    return merged


@functools.cache
def load_service_model(name: str) -> ServiceModel:
    return ServiceModel(model_dict(name), service_name=name)
