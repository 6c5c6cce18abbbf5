"""ListMetrics: the caller's metrics that had data in the last two weeks (or three hours)."""

from __future__ import annotations

import json

from mallee.api.context import RequestContext
from mallee.metrics import listing
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch.errors import invalid_token, invalid_value

PAGE = 500


def list_metrics(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters: list[listing.DimensionFilter] = []
    for i, f in enumerate(params.get("Dimensions") or [], 1):
        value = f.get("Value")
        if value is not None and not 1 <= len(str(value)) <= 1024:
            raise invalid_value(
                f"The parameter Dimensions.member.{i}.Value must be between 1 and 1024 "
                "characters long."
            )
        filters.append((str(f["Name"]), None if value is None else str(value)))
    after: tuple[str, str, str] | None = None
    token = params.get("NextToken")
    if token:
        key = page_tokens.decode(str(token))
        try:
            ns, name, mid = json.loads(key) if key is not None else (None, None, None)
        except (ValueError, TypeError):
            ns = None
        if ns is None:
            raise invalid_token("The service cannot decode the NextToken.")
        after = (str(ns), str(name), str(mid))
    with rt.store.read() as s:
        found, last = listing.list_metrics(
            s,
            ctx.principal.account_id,
            namespace=params.get("Namespace"),
            name=params.get("MetricName"),
            dimensions=filters,
            recently_active=params.get("RecentlyActive") == "PT3H",
            after=after,
            limit=PAGE,
        )
    result: Result = {
        "Metrics": [
            {
                "Namespace": m.namespace,
                "MetricName": m.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
            }
            for m in found
        ]
    }
    if last is not None:
        result["NextToken"] = page_tokens.encode(json.dumps(list(last)))
    return result


OPERATIONS: Operations = {"ListMetrics": list_metrics}
