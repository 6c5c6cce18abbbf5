"""euca-create-tags, euca-describe-tags, euca-delete-tags: TAG lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.output import tag_line
from mallee.euca.paging import all_items


def _change_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("resource", nargs="+", metavar="RESOURCE", help="ID(s) of the resource(s)")
    p.add_argument(
        "--tag", action="append", required=True, metavar="KEY[=VALUE]", help="tag (repeatable)"
    )


def _create(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    tags = [opts.tag(t) for t in args.tag]
    ctx.client().create_tags(Resources=args.resource, Tags=tags)
    for resource in args.resource:
        for tag in tags:
            yield tag_line(resource, tag["Key"], tag["Value"])


def _delete(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    tags: list[dict[str, Any]] = []
    for raw in args.tag:
        # KEY alone deletes the tag whatever its value; KEY= only when the value is empty.
        tag = opts.tag(raw)
        tags.append(tag if "=" in raw else {"Key": tag["Key"]})
    ctx.client().delete_tags(Resources=args.resource, Tags=tags)
    return iter(())


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    opts.add_filters(p)


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = {"Filters": opts.filters(args.filter)} if args.filter else {}
    for tag in all_items(ctx.client(), "describe_tags", "Tags", **params):
        yield [
            "TAG",
            tag.get("ResourceType"),
            tag.get("ResourceId"),
            tag.get("Key"),
            tag.get("Value"),
        ]


CREATE_TAGS = Command(
    "euca-create-tags", "Add or overwrite tags", "ec2", _change_arguments, _create
)
DELETE_TAGS = Command("euca-delete-tags", "Delete tags", "ec2", _change_arguments, _delete)
DESCRIBE_TAGS = Command("euca-describe-tags", "Show tags", "ec2", _describe_arguments, _describe)
