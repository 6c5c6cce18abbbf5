"""Key pairs: list, create (the private key is shown and offered once), import, delete."""

from __future__ import annotations

import base64

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import button, field, form, render, section, table, textarea
from mallee.console.web import PREFIX


def keypairs(ctx: Ctx) -> HttpResponse:
    pairs = ctx.client("ec2").describe_key_pairs().get("KeyPairs", [])
    rows = [
        (
            k.get("KeyName", ""),
            k.get("KeyFingerprint", ""),
            button(PREFIX + "/keypairs/delete", ctx.csrf, {"name": k["KeyName"]}, "Delete"),
        )
        for k in pairs
    ]
    return ctx.page(
        "Key pairs",
        section("Key pairs", table(["Name", "Fingerprint", ""], rows, empty="No key pairs.")),
        section(
            "Create a key pair",
            form(
                PREFIX + "/keypairs/create",
                ctx.csrf,
                [field("Name", "name", required=True)],
                "Create",
            ),
        ),
        section(
            "Import a public key",
            form(
                PREFIX + "/keypairs/import",
                ctx.csrf,
                [field("Name", "name", required=True), textarea("Public key (OpenSSH)", "key")],
                "Import",
            ),
        ),
    )


def create(ctx: Ctx) -> HttpResponse:
    made = ctx.client("ec2").create_key_pair(KeyName=ctx.arg("name"))
    name, material = made["KeyName"], made.get("KeyMaterial", "")
    # The cloud keeps no copy of the private key: this page is the only time it is shown.
    # The download is a data: URL, so the key never has to be kept anywhere to serve it later.
    data = base64.b64encode(material.encode()).decode("ascii")
    return ctx.page(
        f"Key pair {name} created",
        render(
            "<p>Save the private key now: it is not shown again. "
            '<a download="{file}" href="data:application/x-pem-file;base64,{data}">'
            "Download {file}</a></p><pre>{material}</pre>"
            '<p><a href="{back}">Back to key pairs</a></p>',
            file=f"{name}.pem",
            data=data,
            material=material,
            back=PREFIX + "/keypairs",
        ),
    )


def import_key(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("name")
    material = ctx.request.form.get("key", "").strip().encode()
    ctx.client("ec2").import_key_pair(KeyName=name, PublicKeyMaterial=material)
    ctx.ok(f"Imported key pair {name}")
    return ctx.back()


def delete(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("name")
    ctx.client("ec2").delete_key_pair(KeyName=name)
    ctx.ok(f"Deleted key pair {name}")
    return ctx.back()


ROUTES = [
    Route("GET", "/keypairs", keypairs, "/keypairs"),
    Route("POST", "/keypairs/create", create, "/keypairs"),
    Route("POST", "/keypairs/import", import_key, "/keypairs"),
    Route("POST", "/keypairs/delete", delete, "/keypairs"),
]
