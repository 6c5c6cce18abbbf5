"""Empyrean, the Eucalyptus administration API (its model is api/models/data/empyrean): the
service registry and the cloud properties.

Only the cloud administrator (principals of the `eucalyptus` account) may call any of it.
IAM actions are euserv:<Operation>, Eucalyptus' vendor for service administration.
"""

from __future__ import annotations

from typing import ClassVar

from mallee.services.base import Operations, Provider, operations_of
from mallee.services.empyrean import cloud_properties, service_registry
from mallee.services.empyrean.errors import answering_registry_errors


class EmpyreanProvider(Provider):
    service: ClassVar[str] = "empyrean"
    action_prefix: ClassVar[str] = "euserv"
    admin_operations: ClassVar[frozenset[str]] = frozenset({"*"})
    operations: ClassVar[Operations] = answering_registry_errors(
        operations_of(service_registry.OPERATIONS, cloud_properties.OPERATIONS)
    )
