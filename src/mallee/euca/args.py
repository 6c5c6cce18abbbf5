"""Option helpers shared by commands (filters, user data, tags, port ranges)."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

from mallee.euca.errors import CommandError


def add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-F",
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="restrict results to those that meet criteria (may be repeated)",
    )


def filters(values: list[str]) -> list[dict[str, Any]]:
    """--filter name=value ... as EC2 Filters; repeating a name ORs its values, as euca2ools."""
    grouped: dict[str, list[str]] = {}
    for raw in values:
        name, eq, value = raw.partition("=")
        if not eq or not name:
            raise CommandError(f"argument -F/--filter: {raw!r} must have form NAME=VALUE", status=2)
        grouped.setdefault(name, []).append(value)
    return [{"Name": n, "Values": v} for n, v in grouped.items()]


def tag(raw: str) -> dict[str, str]:
    """--tag KEY[=VALUE]; no value means the empty string."""
    key, _, value = raw.partition("=")
    if not key:
        raise CommandError(f"argument --tag: {raw!r} has no key")
    return {"Key": key, "Value": value}


def add_user_data(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-d", "--user-data", metavar="DATA", help="user data for the instances")
    group.add_argument(
        "--user-data-force", metavar="DATA", help="as -d, even when a file has that name"
    )
    group.add_argument("-f", "--user-data-file", metavar="FILE", help="file holding user data")


def user_data(args: argparse.Namespace) -> str | None:
    if args.user_data is not None:
        # The mistake euca2ools guards against: -d with a file name sends the name itself.
        if os.path.isfile(args.user_data):
            raise CommandError(
                "argument -d/--user-data: to send the file's contents use -f/--user-data-file; "
                "to send this text although a file has that name use --user-data-force"
            )
        return str(args.user_data)
    if args.user_data_force is not None:
        return str(args.user_data_force)
    if args.user_data_file is not None:
        try:
            return Path(args.user_data_file).read_text()
        except OSError as exc:
            raise CommandError(
                f"cannot read user data file: {exc.strerror}: {exc.filename}"
            ) from None
    return None


_PORTED = {"tcp", "udp", "6", "17"}


def port_range(protocol: str, ports: str | None, icmp: str | None) -> tuple[int | None, int | None]:
    """FromPort/ToPort for -P/-p/-t, with euca2ools' rules and messages."""
    if protocol in ("icmp", "1"):
        if ports:
            raise CommandError(
                f'argument -p/--port-range: not compatible with protocol "{protocol}"'
            )
        return _pair(icmp or "-1:-1", ":", "-t/--icmp-type-code")
    if protocol in _PORTED:
        if icmp:
            raise CommandError(
                f'argument -t/--icmp-type-code: not compatible with protocol "{protocol}"'
            )
        if not ports:
            raise CommandError(f'argument -p/--port-range is required for protocol "{protocol}"')
        if ":" in ports:
            raise CommandError(
                'argument -p/--port-range: multi-port range must be separated by "-", not ":"'
            )
        low, high = _ports(ports, protocol)
        return (1 if low == -1 else low), (65535 if high == -1 else high)
    return None, None


def _pair(text: str, sep: str, option: str) -> tuple[int, int]:
    first, found, second = text.partition(sep)
    try:
        return int(first), int(second if found else first)
    except ValueError:
        raise CommandError(f'argument {option}: value must have format "1{sep}2"') from None


def _ports(text: str, protocol: str) -> tuple[int, int]:
    # A leading "-" is a negative number (-1), not a range separator.
    head, sep, tail = text[1:].partition("-") if text.startswith("-") else text.partition("-")
    first = ("-" if text.startswith("-") else "") + head
    try:
        return int(first), int(tail if sep else first)
    except ValueError:
        pass
    try:
        port = socket.getservbyname(text, "udp" if protocol in ("udp", "17") else "tcp")
        return port, port
    except OSError:
        raise CommandError(
            f"argument -p/--port-range: {text!r} is neither a port number, a range of port "
            "numbers, nor a known service name"
        ) from None
