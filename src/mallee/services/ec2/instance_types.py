"""EC2 instance types: operations (filled in by the owner of this family)."""

from __future__ import annotations

from mallee.services.base import Provider


class InstanceTypesApi(Provider):
    pass
