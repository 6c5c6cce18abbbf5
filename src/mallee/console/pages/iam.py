"""IAM for an account's administrators: users (their access keys, login profile, groups and
policies), groups, roles and managed policies. Lists are IAM's own pages (Marker/MaxItems),
filtered by path prefix as IAM filters them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import Column, Listing, api_page, listing

# The three kinds of identity policies attach to: how IAM names their calls and parameters.
KINDS = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
PATH_FILTER = [("path", "Path begins with")]
USER_COLUMNS = (Column("name", "Name"), Column("path", "Path"), Column("created", "Created"))
GROUP_COLUMNS = USER_COLUMNS
ROLE_COLUMNS = (*USER_COLUMNS, Column("description", "Description"))
POLICY_COLUMNS = (
    Column("name", "Name"),
    Column("path", "Path"),
    Column("attachments", "Attached to"),
    Column("updated", "Updated"),
)
ASSUME_BY_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    },
    indent=2,
)


def identity_path(kind: str, name: str) -> str:
    return f"/iam/{kind}?" + urlencode({"name": name})


def _kind(ctx: Ctx) -> tuple[str, str]:
    """The kind of identity a form is about, and the parameter IAM names it by."""
    kind = ctx.arg("kind")
    if kind not in KINDS:
        raise BadRequest("a policy belongs to a user, a group or a role")
    return kind, KINDS[kind]


def _document(value: Any) -> str:
    """A policy document shown indented: botocore hands IAM's documents over decoded (a dict),
    or as IAM sent them (URL-encoded JSON) where it does not."""
    if not isinstance(value, str):
        return json.dumps(value, indent=2)
    raw = unquote(value) if value.lstrip().startswith("%") else value
    try:
        return json.dumps(json.loads(raw), indent=2)
    except ValueError:
        return raw


def _named_list(
    ctx: Ctx,
    path: str,
    columns: tuple[Column, ...],
    operation: str,
    key: str,
    row: Any,
    **extra: Any,
) -> Listing:
    lst = listing(ctx, path, columns, PATH_FILTER)
    iam = ctx.client("iam")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxItems": paging["size"], **extra}
        if lst.value:
            params["PathPrefix"] = lst.value if lst.value.startswith("/") else "/" + lst.value
        if "token" in paging:
            params["Marker"] = paging["token"]
        answer = getattr(iam, operation)(**params)
        rows = [row(item) for item in answer.get(key, [])]
        return rows, answer.get("Marker") if answer.get("IsTruncated") else None

    return api_page(lst, fetch)


def _basic(item: dict[str, Any], name_key: str) -> dict[str, Any]:
    return {
        "name": item.get(name_key, ""),
        "path": item.get("Path", ""),
        "created": item.get("CreateDate", ""),
        "description": item.get("Description", ""),
    }


def users(ctx: Ctx) -> Response:
    lst = _named_list(
        ctx, "/iam/users", USER_COLUMNS, "list_users", "Users", lambda u: _basic(u, "UserName")
    )
    return ctx.page("iam_list.html", "IAM users", lst=lst, kind="user", section="users")


def groups(ctx: Ctx) -> Response:
    lst = _named_list(
        ctx, "/iam/groups", GROUP_COLUMNS, "list_groups", "Groups", lambda g: _basic(g, "GroupName")
    )
    return ctx.page("iam_list.html", "IAM groups", lst=lst, kind="group", section="groups")


def roles(ctx: Ctx) -> Response:
    lst = _named_list(
        ctx, "/iam/roles", ROLE_COLUMNS, "list_roles", "Roles", lambda r: _basic(r, "RoleName")
    )
    return ctx.page(
        "iam_list.html", "IAM roles", lst=lst, kind="role", section="roles", trust=ASSUME_BY_EC2
    )


def policies(ctx: Ctx) -> Response:
    def row(p: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": p.get("PolicyName", ""),
            "arn": p.get("Arn", ""),
            "path": p.get("Path", ""),
            "attachments": p.get("AttachmentCount", 0),
            "updated": p.get("UpdateDate", ""),
        }

    lst = _named_list(
        ctx, "/iam/policies", POLICY_COLUMNS, "list_policies", "Policies", row, Scope="Local"
    )
    return ctx.page("iam_policies.html", "IAM policies", lst=lst, section="policies")


def create(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name = ctx.arg("name")
    params: dict[str, Any] = {param: name}
    if ctx.arg("path"):
        params["Path"] = ctx.arg("path")
    if kind == "role":
        params["AssumeRolePolicyDocument"] = ctx.form.get("trust", "") or ASSUME_BY_EC2
    getattr(ctx.client("iam"), f"create_{kind}")(**params)
    ctx.ok(f"Created {kind} {name}")
    return ctx.back(identity_path(kind, name))


def delete(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name = ctx.arg("name")
    asked = ctx.confirmed(f"Delete the {kind} {name}?", f"Yes, delete the {kind}")
    if asked is not None:
        return asked
    getattr(ctx.client("iam"), f"delete_{kind}")(**{param: name})
    ctx.ok(f"Deleted {kind} {name}")
    return ctx.back(f"/iam/{kind}s")


def _policies_of(iam: Any, kind: str, name: str) -> dict[str, Any]:
    param = KINDS[kind]
    inline = getattr(iam, f"list_{kind}_policies")(**{param: name}).get("PolicyNames", [])
    documents = [
        (
            p,
            _document(
                getattr(iam, f"get_{kind}_policy")(**{param: name, "PolicyName": p}).get(
                    "PolicyDocument", ""
                )
            ),
        )
        for p in inline
    ]
    attached = getattr(iam, f"list_attached_{kind}_policies")(**{param: name})
    return {
        "inline": documents,
        "attached": [
            (p.get("PolicyName", ""), p.get("PolicyArn", ""))
            for p in attached.get("AttachedPolicies", [])
        ],
    }


def user(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    iam = ctx.client("iam")
    found = iam.get_user(UserName=name)["User"]
    keys = [
        (k.get("AccessKeyId", ""), k.get("Status", ""), k.get("CreateDate", ""))
        for k in iam.list_access_keys(UserName=name).get("AccessKeyMetadata", [])
    ]
    try:
        profile = (
            iam.get_login_profile(UserName=name)["LoginProfile"].get("CreateDate", "") or "yes"
        )
    except iam.exceptions.NoSuchEntityException:
        profile = ""
    member_of = [
        g.get("GroupName", "") for g in iam.list_groups_for_user(UserName=name).get("Groups", [])
    ]
    return ctx.page(
        "iam_user.html",
        f"IAM user {name}",
        name=name,
        arn=found.get("Arn", ""),
        created=found.get("CreateDate", ""),
        keys=keys,
        profile=profile,
        member_of=member_of,
        kind="user",
        here=identity_path("user", name),
        section="users",
        **_policies_of(iam, "user", name),
    )


def group(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    iam = ctx.client("iam")
    found = iam.get_group(GroupName=name)
    return ctx.page(
        "iam_group.html",
        f"IAM group {name}",
        name=name,
        arn=found["Group"].get("Arn", ""),
        members=[u.get("UserName", "") for u in found.get("Users", [])],
        kind="group",
        here=identity_path("group", name),
        section="groups",
        **_policies_of(iam, "group", name),
    )


def role(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    iam = ctx.client("iam")
    found = iam.get_role(RoleName=name)["Role"]
    return ctx.page(
        "iam_role.html",
        f"IAM role {name}",
        name=name,
        arn=found.get("Arn", ""),
        trust=_document(found.get("AssumeRolePolicyDocument", "")),
        kind="role",
        here=identity_path("role", name),
        section="roles",
        **_policies_of(iam, "role", name),
    )


def put_policy(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name, policy = ctx.arg("name"), ctx.arg("policy")
    document = ctx.form.get("document", "")
    try:
        json.loads(document)
    except ValueError as bad:
        raise BadRequest(f"the policy document is not JSON: {bad}") from None
    getattr(ctx.client("iam"), f"put_{kind}_policy")(
        **{param: name, "PolicyName": policy, "PolicyDocument": document}
    )
    ctx.ok(f"Saved the policy {policy} of {kind} {name}")
    return ctx.back(identity_path(kind, name))


def delete_policy(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name, policy = ctx.arg("name"), ctx.arg("policy")
    asked = ctx.confirmed(f"Delete the policy {policy} of {kind} {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    getattr(ctx.client("iam"), f"delete_{kind}_policy")(**{param: name, "PolicyName": policy})
    ctx.ok(f"Deleted the policy {policy} of {kind} {name}")
    return ctx.back(identity_path(kind, name))


def attach(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name, arn = ctx.arg("name"), ctx.arg("arn")
    getattr(ctx.client("iam"), f"attach_{kind}_policy")(**{param: name, "PolicyArn": arn})
    ctx.ok(f"Attached {arn} to {kind} {name}")
    return ctx.back(identity_path(kind, name))


def detach(ctx: Ctx) -> Response:
    kind, param = _kind(ctx)
    name, arn = ctx.arg("name"), ctx.arg("arn")
    asked = ctx.confirmed(f"Detach {arn} from {kind} {name}?", "Yes, detach it")
    if asked is not None:
        return asked
    getattr(ctx.client("iam"), f"detach_{kind}_policy")(**{param: name, "PolicyArn": arn})
    ctx.ok(f"Detached {arn} from {kind} {name}")
    return ctx.back(identity_path(kind, name))


def create_key(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    made = ctx.client("iam").create_access_key(UserName=name)["AccessKey"]
    # The secret is shown this once: IAM keeps no way to read it again.
    return ctx.page(
        "iam_key_created.html",
        f"Access key for {name}",
        name=name,
        key_id=made["AccessKeyId"],
        secret=made["SecretAccessKey"],
        back=identity_path("user", name),
    )


def key_status(ctx: Ctx) -> Response:
    name, key_id, status = ctx.arg("name"), ctx.arg("key"), ctx.arg("status")
    if status not in ("Active", "Inactive"):
        raise BadRequest("a key is Active or Inactive")
    if status == "Inactive":
        asked = ctx.confirmed(f"Deactivate the access key {key_id}?", "Yes, deactivate it")
        if asked is not None:
            return asked
    ctx.client("iam").update_access_key(UserName=name, AccessKeyId=key_id, Status=status)
    ctx.ok(f"Access key {key_id}: {status}")
    return ctx.back(identity_path("user", name))


def delete_key(ctx: Ctx) -> Response:
    name, key_id = ctx.arg("name"), ctx.arg("key")
    asked = ctx.confirmed(f"Delete the access key {key_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("iam").delete_access_key(UserName=name, AccessKeyId=key_id)
    ctx.ok(f"Deleted the access key {key_id}")
    return ctx.back(identity_path("user", name))


def set_password(ctx: Ctx) -> Response:
    name, password = ctx.arg("name"), ctx.form.get("password", "")
    iam = ctx.client("iam")
    if ctx.arg("exists") == "yes":
        iam.update_login_profile(UserName=name, Password=password)
        ctx.ok(f"Changed the console password of {name}")
    else:
        iam.create_login_profile(UserName=name, Password=password)
        ctx.ok(f"{name} may now sign in to the console")
    return ctx.back(identity_path("user", name))


def delete_password(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    asked = ctx.confirmed(f"Take away the console password of {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("iam").delete_login_profile(UserName=name)
    ctx.ok(f"{name} can no longer sign in to the console")
    return ctx.back(identity_path("user", name))


def membership(ctx: Ctx) -> Response:
    name, group_name, op = ctx.arg("name"), ctx.arg("group"), ctx.arg("op")
    iam = ctx.client("iam")
    if op == "add":
        iam.add_user_to_group(UserName=name, GroupName=group_name)
        ctx.ok(f"Added {name} to {group_name}")
    elif op == "remove":
        asked = ctx.confirmed(f"Remove {name} from the group {group_name}?", "Yes, remove")
        if asked is not None:
            return asked
        iam.remove_user_from_group(UserName=name, GroupName=group_name)
        ctx.ok(f"Removed {name} from {group_name}")
    else:
        raise BadRequest("add or remove")
    return ctx.back(identity_path("user", name))


def policy(ctx: Ctx) -> Response:
    arn = ctx.arg("arn")
    iam = ctx.client("iam")
    found = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=found["DefaultVersionId"])
    return ctx.page(
        "iam_policy.html",
        f"IAM policy {found.get('PolicyName', '')}",
        arn=arn,
        version=found["DefaultVersionId"],
        attachments=found.get("AttachmentCount", 0),
        document=_document(version["PolicyVersion"].get("Document", "")),
        section="policies",
    )


def create_policy(ctx: Ctx) -> Response:
    name, document = ctx.arg("name"), ctx.form.get("document", "")
    try:
        json.loads(document)
    except ValueError as bad:
        raise BadRequest(f"the policy document is not JSON: {bad}") from None
    made = ctx.client("iam").create_policy(PolicyName=name, PolicyDocument=document)
    ctx.ok(f"Created the policy {name}")
    return ctx.back("/iam/policy?" + urlencode({"arn": made["Policy"]["Arn"]}))


def delete_managed(ctx: Ctx) -> Response:
    arn = ctx.arg("arn")
    asked = ctx.confirmed(f"Delete the policy {arn}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("iam").delete_policy(PolicyArn=arn)
    ctx.ok(f"Deleted the policy {arn}")
    return ctx.back("/iam/policies")


def _routes() -> list[Route]:
    get = {
        "/iam/users": users,
        "/iam/groups": groups,
        "/iam/roles": roles,
        "/iam/policies": policies,
        "/iam/user": user,
        "/iam/group": group,
        "/iam/role": role,
        "/iam/policy": policy,
    }
    post = {
        "/iam/create": create,
        "/iam/delete": delete,
        "/iam/policy/put": put_policy,
        "/iam/policy/delete": delete_policy,
        "/iam/attach": attach,
        "/iam/detach": detach,
        "/iam/keys/create": create_key,
        "/iam/keys/status": key_status,
        "/iam/keys/delete": delete_key,
        "/iam/password": set_password,
        "/iam/password/delete": delete_password,
        "/iam/membership": membership,
        "/iam/policies/create": create_policy,
        "/iam/policies/delete": delete_managed,
    }
    return [Route("GET", p, h, "/iam/users") for p, h in get.items()] + [
        Route("POST", p, h, "/iam/users") for p, h in post.items()
    ]


ROUTES = _routes()
