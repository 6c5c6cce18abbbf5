"""EC2 tags: CreateTags, DeleteTags, DescribeTags, and the helpers every Describe call uses.

Tags belong to the account that wrote them. A resource can be tagged only by its owner (as in
Eucalyptus): the table's key is (resource, key), so a second account's tags on a shared image
would collide with the owner's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.store.tables.ec2 import Ec2Image, Ec2Instance, Ec2KeyPair, Ec2LaunchPermission, Ec2Tag

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256

# Id prefix -> the AWS ResourceType DescribeTags reports.
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
    "vpc": "vpc",
    "subnet": "subnet",
    "igw": "internet-gateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "eni": "network-interface",
    "dopt": "dhcp-options",
    "lt": "launch-template",
    "pg": "placement-group",
    "nat": "natgateway",
    "sir": "spot-instances-request",
}

# (session, account id, resource id) -> None, or raises the resource's NotFound / AuthFailure.
ResourceCheck = Callable[[Session, str, str], None]
_CHECKS: dict[str, ResourceCheck] = {}


def register_resource_check(resource_type: str, check: ResourceCheck) -> None:
    """Let CreateTags/DeleteTags verify ids of a resource type another family owns.

    Types without a check are accepted when their id is well formed.
    """
    _CHECKS[resource_type] = check


def resource_type_of(resource_id: str) -> str:
    """The AWS ResourceType of an id, by its prefix; InvalidID for an unknown prefix."""
    prefix, dash, _ = resource_id.partition("-")
    kind = _PREFIXES.get(prefix) if dash else None
    if kind is None:
        raise errors.invalid_id(resource_id)
    return kind


def check_taggable(s: Session, account_id: str, resource_id: str) -> str:
    """The resource's type, once its id is well formed and the account owns it."""
    kind = resource_type_of(resource_id)
    if not is_id(resource_id, resource_id.partition("-")[0]):
        raise errors.malformed(kind, resource_id)
    check = _CHECKS.get(kind)
    if check is not None:
        check(s, account_id, resource_id)
    return kind


def _check_instance(s: Session, account_id: str, resource_id: str) -> None:
    row = s.get(Ec2Instance, resource_id)
    if row is None or row.account_id != account_id:
        raise errors.not_found("instance", resource_id)


def _check_image(s: Session, account_id: str, resource_id: str) -> None:
    image = s.get(Ec2Image, resource_id)
    if image is None or image.state == "deregistered":
        raise errors.not_found("image", resource_id)
    if image.account_id == account_id:
        return
    if image.is_public or s.get(Ec2LaunchPermission, (image.id, account_id)) is not None:
        raise errors.auth_failure(f"Not authorized for image:{resource_id}")
    raise errors.not_found("image", resource_id)


def _check_key_pair(s: Session, account_id: str, resource_id: str) -> None:
    row = s.get(Ec2KeyPair, resource_id)
    if row is None or row.account_id != account_id:
        raise errors.not_found("key-pair", resource_id)


register_resource_check("instance", _check_instance)
register_resource_check("image", _check_image)
register_resource_check("key-pair", _check_key_pair)


_IN_CHUNK = 500


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tags_for(
    s: Session, account_id: str, resource_ids: Collection[str], resource_type: str = ""
) -> dict[str, dict[str, str]]:
    """resource id -> {key: value} of the account's tags on those resources.

    With resource_type and many ids, one query for all the account's tags of that type is
    cheaper than chunks of IN lists.
    """
    out: dict[str, dict[str, str]] = {}
    t = Ec2Tag.__table__.c
    columns = select(t.resource_id, t.key, t.value).where(t.account_id == account_id)
    ids = list(resource_ids)
    if resource_type and len(ids) > _IN_CHUNK:
        wanted = set(ids)
        for rid, key, value in s.execute(columns.where(t.resource_type == resource_type)):
            if rid in wanted:
                out.setdefault(rid, {})[key] = value
        return out
    # Chunks keep the IN list within every database's parameter limit.
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for rid, key, value in s.execute(columns.where(t.resource_id.in_(chunk))):
            out.setdefault(rid, {})[key] = value
    return out


def _reserved(key: str) -> bool:
    return key.lower().startswith("aws:")


def _check_tag(key: str, value: str) -> None:
    if not key:
        raise errors.invalid_value("Tag key cannot be empty")
    if len(key) > MAX_KEY:
        raise errors.invalid_parameter(
            "key", key, f"Length exceeds maximum of {MAX_KEY} characters."
        )
    if len(value) > MAX_VALUE:
        raise errors.invalid_parameter(
            "value", value, f"Length exceeds maximum of {MAX_VALUE} characters."
        )
    if _reserved(key):
        raise errors.invalid_parameter(
            "key", key, "Tag keys starting with 'aws:' are reserved for internal use"
        )


def _wanted(tags: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    wanted = {}
    for tag in tags:
        key, value = str(tag.get("Key") or ""), tag.get("Value")
        # No value is the empty value, as AWS.
        wanted[key] = "" if value is None else str(value)
        _check_tag(key, wanted[key])
    return wanted


def _write(
    s: Session, account_id: str, typed_ids: Mapping[str, str], tags: Sequence[Mapping[str, Any]]
) -> None:
    """Set `tags` on resources (id -> resource type), keeping each within MAX_TAGS."""
    wanted = _wanted(tags)
    existing = tags_for(s, account_id, list(typed_ids))
    for rid, kind in typed_ids.items():
        if len(set(existing.get(rid, {})) | set(wanted)) > MAX_TAGS:
            raise errors.tag_limit_exceeded(MAX_TAGS)
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
    """Tag resources a call just created: `created` maps a ResourceType to the new ids.

    A specification for a type the call did not create is AWS's InvalidParameterValue.
    """
    seen: set[str] = set()
    for spec in specs or []:
        kind = str(spec.get("ResourceType") or "")
        if kind not in created:
            raise errors.invalid_value(
                f"'{kind}' is not a valid taggable resource type for this operation."
            )
        if kind in seen:
            raise errors.invalid_value(
                "The same resource type may not be specified more than once in tag specifications"
            )
        seen.add(kind)
        tags = spec.get("Tags") or []
        if not tags:
            raise errors.invalid_value("Tag specification must have at least one tag")
        _write(s, account_id, dict.fromkeys(created[kind], kind), tags)


def delete_all_tags(s: Session, resource_ids: Collection[str]) -> None:
    """Every account's tags on these resources (they are gone)."""
    ids = list(resource_ids)
    for start in range(0, len(ids), 500):
        s.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(ids[start : start + 500])))


_DESCRIBE_FILTERS = {
    "key": lambda t: t.key,
    "value": lambda t: t.value,
    "resource-id": lambda t: t.resource_id,
    "resource-type": lambda t: t.resource_type,
}


def _resources(params: Params) -> list[str]:
    ids = [str(r) for r in params.get("Resources") or []]
    if not ids:
        raise errors.missing("ResourceId")
    return ids


def create_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = _resources(params)
    if not params.get("Tags"):
        raise errors.missing("Tag")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        typed = {rid: check_taggable(s, account, rid) for rid in ids}
        _write(s, account, typed, params["Tags"])
    return {}


def delete_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = _resources(params)
    given = params.get("Tags")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        for rid in ids:
            check_taggable(s, account, rid)
        query = delete(Ec2Tag).where(Ec2Tag.account_id == account, Ec2Tag.resource_id.in_(ids))
        if not given:
            # No tags named: every user tag of those resources goes, as AWS.
            s.execute(query)
            return {}
        for tag in given:
            key = str(tag.get("Key") or "")
            if _reserved(key):
                raise errors.invalid_parameter(
                    "key", key, "Tag keys starting with 'aws:' are reserved for internal use"
                )
            one = query.where(Ec2Tag.key == key)
            # A value given deletes the tag only when it has that value ("" included).
            if tag.get("Value") is not None:
                one = one.where(Ec2Tag.value == str(tag["Value"]))
            s.execute(one)
    return {}


def describe_tags(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _DESCRIBE_FILTERS)
    with rt.store.read() as s:
        rows = s.scalars(
            select(Ec2Tag)
            .where(Ec2Tag.account_id == ctx.principal.account_id)
            .order_by(Ec2Tag.resource_id, Ec2Tag.key)
        ).all()
    # tag:<key>, tag-key and tag-value look at the tag itself: tag:Owner=TeamA keeps the
    # rows whose key is Owner and value TeamA.
    chosen = [t for t in rows if matches(filters, lookup(_DESCRIBE_FILTERS, t), {t.key: t.value})]
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


OPERATIONS: Operations = {
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
