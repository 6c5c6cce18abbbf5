"""EC2 tags: CreateTags, DeleteTags, DescribeTags, and the helpers every Describe call uses."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.base import Params, Provider, Result
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.store.tables.ec2 import Ec2Tag

MAX_TAGS = 50
_PREFIXES = {
    "i": "instance",
    "emi": "image",
    "eki": "image",
    "eri": "image",
    "ami": "image",
    "vol": "volume",
    "snap": "snapshot",
    "sg": "security-group",
    "key": "key-pair",
    "eipalloc": "elastic-ip",
    "r": "reservation",
}


def resource_type_of(resource_id: str) -> str:
    prefix, dash, _ = resource_id.partition("-")
    kind = _PREFIXES.get(prefix) if dash else None
    if kind is None:
        raise ServiceError("InvalidID", f'The ID "{resource_id}" is not valid', 400)
    return kind


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tags_for(
    s: Session, account_id: str, resource_ids: Collection[str]
) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    ids = list(resource_ids)
    # Chunks keep the IN list within every database's parameter limit.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for tag in s.scalars(
            select(Ec2Tag).where(Ec2Tag.account_id == account_id, Ec2Tag.resource_id.in_(chunk))
        ):
            out.setdefault(tag.resource_id, {})[tag.key] = tag.value
    return out


def _check_tag(key: str, value: str) -> None:
    if not key or len(key) > 128:
        raise ServiceError(
            "InvalidParameterValue", f"Tag key '{key}' must be 1 to 128 characters", 400
        )
    if len(value) > 256:
        raise ServiceError(
            "InvalidParameterValue", f"Tag value for '{key}' exceeds 256 characters", 400
        )
    if key.lower().startswith("aws:"):
        raise ServiceError(
            "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for AWS use", 400
        )


def put_tags(
    s: Session, account_id: str, resource_ids: Sequence[str], tags: Sequence[Mapping[str, Any]]
) -> None:
    wanted = {str(t.get("Key", "")): str(t.get("Value") or "") for t in tags}
    for key, value in wanted.items():
        _check_tag(key, value)
    existing = tags_for(s, account_id, resource_ids)
    for rid in resource_ids:
        kind = resource_type_of(rid)
        have = existing.get(rid, {})
        if len(set(have) | set(wanted)) > MAX_TAGS:
            raise ServiceError(
                "TagLimitExceeded", f"The maximum number of tags ({MAX_TAGS}) was exceeded", 400
            )
        for key, value in wanted.items():
            s.merge(
                Ec2Tag(
                    resource_id=rid, key=key, value=value, account_id=account_id, resource_type=kind
                )
            )


def apply_tag_specifications(
    s: Session,
    account_id: str,
    specs: list[dict[str, Any]] | None,
    created: Mapping[str, Sequence[str]],
) -> None:
    for spec in specs or []:
        kind = str(spec.get("ResourceType", ""))
        if kind not in created:
            raise ServiceError(
                "InvalidParameterValue",
                f"'{kind}' is not a valid taggable resource type for this operation.",
                400,
            )
        put_tags(s, account_id, created[kind], spec.get("Tags") or [])


def delete_all_tags(s: Session, resource_ids: Collection[str]) -> None:
    s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(list(resource_ids))))


_DESCRIBE_FILTERS = {
    "key": lambda t: t.key,
    "value": lambda t: t.value,
    "resource-id": lambda t: t.resource_id,
    "resource-type": lambda t: t.resource_type,
}


class TagsApi(Provider):
    def create_tags(self, ctx: RequestContext, params: Params) -> Result:
        ids = [str(r) for r in params.get("Resources") or []]
        with self.store.session() as s:
            put_tags(s, ctx.principal.account_id, ids, params.get("Tags") or [])
        return {}

    def delete_tags(self, ctx: RequestContext, params: Params) -> Result:
        ids = [str(r) for r in params.get("Resources") or []]
        for rid in ids:
            resource_type_of(rid)
        given = params.get("Tags")
        with self.store.session() as s:
            query = delete(Ec2Tag).where(
                Ec2Tag.account_id == ctx.principal.account_id, Ec2Tag.resource_id.in_(ids)
            )
            if not given:
                s.execute(query)
                return {}
            for tag in given:
                one = query.where(Ec2Tag.key == str(tag.get("Key", "")))
                # A value given deletes the tag only when it has that value ("" included).
                if "Value" in tag and tag["Value"] is not None:
                    one = one.where(Ec2Tag.value == str(tag["Value"]))
                s.execute(one)
        return {}

    def describe_tags(self, ctx: RequestContext, params: Params) -> Result:
        filters = parse_filters(params.get("Filters"), _DESCRIBE_FILTERS)
        with self.store.read() as s:
            rows = s.scalars(
                select(Ec2Tag)
                .where(Ec2Tag.account_id == ctx.principal.account_id)
                .order_by(Ec2Tag.resource_id, Ec2Tag.key)
            ).all()
        chosen = [t for t in rows if matches(filters, lookup(_DESCRIBE_FILTERS, t), {})]
        items, token = page(chosen, params, key=lambda t: f"{t.resource_id}\x00{t.key}")
        out: Result = {
            "Tags": [
                {
                    "ResourceId": t.resource_id,
                    "ResourceType": t.resource_type,
                    "Key": t.key,
                    "Value": t.value,
                }
                for t in items
            ]
        }
        if token:
            out["NextToken"] = token
        return out
