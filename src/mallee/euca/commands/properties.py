"""euca-describe-properties and euca-modify-property: the cloud's configuration properties."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from mallee.euca.command import Command, Context, Line
from mallee.euca.errors import CommandError


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("property", nargs="*", metavar="PROPERTY", help="names or name prefixes")
    p.add_argument("-v", "--verbose", action="store_true", help="show descriptions and defaults")


def _describe(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params = {"Property": args.property} if args.property else {}
    for prop in ctx.client().describe_properties(**params).get("Properties") or []:
        yield ["PROPERTY", prop.get("Name"), prop.get("Value")]
        if args.verbose:
            yield ["DESCRIPTION", prop.get("Name"), prop.get("Description")]
            yield ["DEFAULT", prop.get("Name"), prop.get("DefaultValue")]


def _modify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-p", "--property", action="append", default=[], metavar="NAME=VALUE", help="set a value"
    )
    p.add_argument(
        "-f",
        "--property-from-file",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="set a value to a file's contents",
    )
    p.add_argument(
        "-r", "--reset", action="append", default=[], metavar="NAME", help="back to the default"
    )


def _assignments(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(name, value) pairs in command-line order per kind; None means reset."""
    changes: list[tuple[str, str | None]] = []
    for raw in args.property:
        name, eq, value = raw.partition("=")
        if not eq or not name:
            raise CommandError(f"argument -p/--property: {raw!r} must have form NAME=VALUE")
        changes.append((name, value))
    for raw in args.property_from_file:
        name, eq, path = raw.partition("=")
        if not eq or not name:
            raise CommandError(f"argument -f/--property-from-file: {raw!r} must be NAME=FILE")
        try:
            changes.append((name, Path(path).read_text()))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    changes += [(name, None) for name in args.reset]
    if not changes:
        raise CommandError("give at least one of -p NAME=VALUE, -f NAME=FILE or -r NAME", status=2)
    return changes


def _modify(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    client = ctx.client()
    for name, value in _assignments(args):
        if value is None:
            out = client.modify_property_value(Name=name, Reset=True)
        else:
            out = client.modify_property_value(Name=name, Value=value)
        # Eucalyptus: "PROPERTY <name> <new> was <old>".
        yield ["PROPERTY", out.get("Name"), f"{out.get('Value')} was {out.get('OldValue')}"]


DESCRIBE_PROPERTIES = Command(
    name="euca-describe-properties",
    help="Show the cloud's configuration properties",
    service="empyrean",
    arguments=_describe_arguments,
    run=_describe,
)
MODIFY_PROPERTY = Command(
    name="euca-modify-property",
    help="Change or reset cloud configuration properties",
    service="empyrean",
    arguments=_modify_arguments,
    run=_modify,
)
