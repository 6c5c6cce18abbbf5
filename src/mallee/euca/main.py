"""The one entry point of every euca2ools-style command: it dispatches on the program name."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from mallee.euca.command import Command, Context
from mallee.euca.errors import CommandError, from_botocore
from mallee.euca.output import NIL, render
from mallee.euca.registry import COMMANDS


def parser_for(command: Command) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=command.name, description=command.help)
    command.arguments(parser)
    common = parser.add_argument_group("connection options")
    common.add_argument("-U", "--url", metavar="URL", help="service endpoint URL")
    common.add_argument("--region", metavar="REGION", help="region (default AWS_DEFAULT_REGION)")
    common.add_argument("-I", "--access-key-id", metavar="KEY_ID", help="access key id")
    common.add_argument("-S", "--secret-key", metavar="KEY", help="secret access key")
    common.add_argument("--security-token", metavar="TOKEN", help="session token")
    common.add_argument(
        "--show-empty-fields", action="store_true", help='show empty fields as "(nil)"'
    )
    common.add_argument("--debug", action="store_true", help="show requests and tracebacks")
    return parser


def _join_dash_values(argv: Sequence[str], options: frozenset[str]) -> list[str]:
    """Turn `-p -1` into `-p=-1` for the command's dash_values options."""
    out: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in options:
            value = next(tokens, None)
            if value is not None and value.startswith("-") and value not in ("-", "--"):
                out.append(f"{token}={value}" if token.startswith("--") else f"{token}{value}")
                continue
            out.append(token)
            if value is not None:
                out.append(value)
            continue
        out.append(token)
    return out


def _pick(argv: list[str]) -> tuple[Command, list[str]]:
    """The command named by argv[0], or by argv[1] under `python -m mallee.euca`."""
    name = Path(argv[0]).name if argv else ""
    if name in COMMANDS:
        return COMMANDS[name], argv[1:]
    if len(argv) > 1 and argv[1] in COMMANDS:
        return COMMANDS[argv[1]], argv[2:]
    known = " ".join(sorted(COMMANDS))
    raise SystemExit(f"{name or 'mallee.euca'}: name a command: {known}")


def run(argv: list[str], environ: Mapping[str, str]) -> int:
    command, rest = _pick(argv)
    args = parser_for(command).parse_args(_join_dash_values(rest, command.dash_values))
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    ctx = Context(command, args, environ)
    empty = NIL if args.show_empty_fields else ""
    try:
        for line in command.run(ctx, args):
            print(render(line, empty), flush=False)
        sys.stdout.flush()
        return 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as exc:
        error = exc if isinstance(exc, CommandError) else from_botocore(exc, ctx.endpoint)
        if args.debug:
            traceback.print_exc()
        if error is None and isinstance(exc, OSError) and exc.strerror:
            error = CommandError(f"{exc.strerror}: {exc.filename or ''}".rstrip(": "))
        if error is None:
            print(
                f"{command.name}: error: {type(exc).__name__}: {exc} (--debug shows where)",
                file=sys.stderr,
            )
            return 1
        code = f" ({error.code})" if error.code else ""
        print(f"{command.name}: error{code}: {error.message}", file=sys.stderr)
        return error.status


def main() -> int:
    try:
        return run(list(sys.argv), os.environ)
    except BrokenPipeError:
        # `euca-describe-instances | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
