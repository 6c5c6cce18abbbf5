"""Key pairs: list, create (the private key is shown and offered once), import, delete."""

from __future__ import annotations

import base64

from starlette.responses import Response

from mallee.console.context import Ctx, Route
from mallee.console.pages.listing import Column, listing, local_filters, local_page

COLUMNS = (Column("name", "Name"), Column("fingerprint", "Fingerprint"))


def keypairs(ctx: Ctx) -> Response:
    # EC2 answers DescribeKeyPairs whole (it has no paging): the page is cut here.
    lst = listing(ctx, "/keypairs", COLUMNS, local_filters(COLUMNS), default_sort="name")
    found = ctx.client("ec2").describe_key_pairs().get("KeyPairs", [])
    rows = [
        {"name": k.get("KeyName", ""), "fingerprint": k.get("KeyFingerprint", "")} for k in found
    ]
    return ctx.page("keypairs.html", "Key pairs", lst=local_page(lst, rows))


def create(ctx: Ctx) -> Response:
    made = ctx.client("ec2").create_key_pair(KeyName=ctx.arg("name"))
    name, material = made["KeyName"], made.get("KeyMaterial", "")
    return ctx.page(
        "keypair_created.html",
        f"Key pair {name} created",
        file=f"{name}.pem",
        data=base64.b64encode(material.encode()).decode("ascii"),
        material=material,
    )


def import_key(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    material = ctx.form.get("key", "").strip().encode()
    ctx.client("ec2").import_key_pair(KeyName=name, PublicKeyMaterial=material)
    ctx.ok(f"Imported key pair {name}")
    return ctx.back()


def delete(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    asked = ctx.confirmed(f"Delete the key pair {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_key_pair(KeyName=name)
    ctx.ok(f"Deleted key pair {name}")
    return ctx.back()


ROUTES = [
    Route("GET", "/keypairs", keypairs, "/keypairs"),
    Route("POST", "/keypairs/create", create, "/keypairs"),
    Route("POST", "/keypairs/import", import_key, "/keypairs"),
    Route("POST", "/keypairs/delete", delete, "/keypairs"),
]
