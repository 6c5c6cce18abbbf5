"""CloudFormation: the table of its operations, one module per family. Until the stack
engine lands, the operations that need no stack: ValidateTemplate, GetTemplateSummary and
EstimateTemplateCost; the rest of the model answers InvalidAction."""

from __future__ import annotations

from typing import ClassVar

from mallee.services.base import Operations, Provider, operations_of
from mallee.services.cloudformation import costs, summaries

_TABLES: tuple[Operations, ...] = (summaries.OPERATIONS, costs.OPERATIONS)

# They parse and validate templates of up to 1 MB, and may read one from S3: CPU and I/O the
# server's event loop must not wait on, though GetTemplateSummary is named as a read.
_HEAVY_READS = frozenset({"GetTemplateSummary"})


class CloudFormationProvider(Provider):
    service: ClassVar[str] = "cloudformation"
    action_prefix: ClassVar[str] = "cloudformation"
    operations: ClassVar[Operations] = operations_of(*_TABLES)

    def writes(self, operation: str) -> bool:
        return operation in _HEAVY_READS or super().writes(operation)
