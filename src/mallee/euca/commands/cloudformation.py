"""euform-* commands (euca2ools' CloudFormation commands).

euform-validate-template prints what euca2ools' ValidateTemplate means to print: a DESCRIPTION
line, then for each list of the answer one line per member field, tagged with the list's name
upper-cased (PARAMETERS <field> <value>, CAPABILITIES <capability>) and CAPABILITIESREASON with
its text. (euca2ools 3 builds the DESCRIPTION line without printing it, and stops at the first
capability, a string it takes for a structure: those slips are not reproduced.)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mallee.euca.command import Command, Context, Line
from mallee.euca.errors import CommandError

Obj = dict[str, Any]


def template_source(args: argparse.Namespace) -> Obj:
    """TemplateBody from --template-file, or TemplateURL from --template-url."""
    if args.template_url is not None:
        return {"TemplateURL": args.template_url}
    try:
        return {"TemplateBody": Path(args.template_file).read_text()}
    except OSError as exc:
        raise CommandError(f"cannot read template file: {exc.strerror}: {exc.filename}") from None
    except UnicodeDecodeError:
        raise CommandError(f"template file is not UTF-8 text: {args.template_file}") from None


def add_template_source(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--template-file", metavar="FILE", help="file location containing JSON template"
    )
    source.add_argument("--template-url", metavar="URL", help="S3 url for JSON template")


def _text(value: object) -> object:
    # The XML the commands were written against says true/false.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    add_template_source(p)


def _validate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    answer = ctx.client().validate_template(**template_source(args))
    yield ["DESCRIPTION", answer.get("Description")]
    for parameter in answer.get("Parameters") or []:
        for field, value in parameter.items():
            yield ["PARAMETERS", field, _text(value)]
    if answer.get("CapabilitiesReason"):
        yield ["CAPABILITIESREASON", answer["CapabilitiesReason"]]
    for capability in answer.get("Capabilities") or []:
        yield ["CAPABILITIES", capability]


VALIDATE_TEMPLATE = Command(
    name="euform-validate-template",
    help="Validate a CloudFormation template",
    service="cloudformation",
    arguments=_validate_arguments,
    run=_validate,
)

COMMANDS = (VALIDATE_TEMPLATE,)
