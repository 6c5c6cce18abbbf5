"""Classic Elastic Load Balancing (LoadBalancing): the table of its operations, one module per
family, and the ARNs each operation is authorized on (every load balancer it names)."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Provider, operations_of
from mallee.services.elb import (
    attributes,
    instances,
    listeners,
    load_balancers,
    placement,
    policies,
    rows,
    tags,
)

_TABLES: tuple[Operations, ...] = (
    load_balancers.OPERATIONS,
    listeners.OPERATIONS,
    instances.OPERATIONS,
    attributes.OPERATIONS,
    policies.OPERATIONS,
    placement.OPERATIONS,
    tags.OPERATIONS,
)


class ElbProvider(Provider):
    service: ClassVar[str] = "elb"
    action_prefix: ClassVar[str] = "elasticloadbalancing"
    operations: ClassVar[Operations] = operations_of(*_TABLES)

    def resources(self, ctx: RequestContext) -> list[str]:
        return rows.resources(ctx)
