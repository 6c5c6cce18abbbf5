"""EC2 regions: operations (filled in by the owner of this family)."""

from __future__ import annotations

from mallee.services.base import Provider


class RegionsApi(Provider):
    pass
