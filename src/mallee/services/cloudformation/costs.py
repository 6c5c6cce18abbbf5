"""EstimateTemplateCost: as AWS, the answer is a Simple Monthly Calculator URL whose key names
the template's estimate; mallee's key is derived from the template and its parameter values,
so the same request always answers the same URL."""

from __future__ import annotations

import hashlib
import json
import uuid

from mallee.api.context import RequestContext
from mallee.cfn import params as cfn_params
from mallee.cfn.errors import TemplateError
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudformation import errors, templates

CALCULATOR_URL = "http://calculator.s3.amazonaws.com/calc5.html"


def estimate_template_cost(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    body, url = templates.given(params)
    text = templates.text(rt, ctx, body, url)
    template = templates.load(text)
    templates.summary(template)
    try:
        declared = cfn_params.declarations(template)
    except TemplateError as err:
        raise errors.validation(str(err)) from None
    values = {
        str(p.get("ParameterKey")): str(p.get("ParameterValue") or "")
        for p in params.get("Parameters") or []
    }
    unknown = [name for name in values if name not in declared]
    if unknown:
        raise errors.validation(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    digest = hashlib.sha256(
        text.encode() + b"\0" + json.dumps(values, sort_keys=True).encode()
    ).digest()
    key = uuid.UUID(bytes=digest[:16], version=4)
    return {"Url": f"{CALCULATOR_URL}?key=cloudformation/{key}"}


OPERATIONS: Operations = {"EstimateTemplateCost": estimate_template_cost}
