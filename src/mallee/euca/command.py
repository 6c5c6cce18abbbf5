"""What a command is, and what it gets when it runs.

A command module declares, for each command:

    DESCRIBE_THINGS = Command(
        name="euca-describe-things",
        help="Show things",
        service="ec2",                 # whose URL -U overrides
        arguments=_arguments,          # adds argparse options
        run=_run,                      # (Context, Namespace) -> output lines
    )

and `registry.py` lists it. `run` yields output lines: a list of fields (joined with tabs, as
euca2ools does) or a ready string. It raises CommandError for anything the user did wrong.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mallee.euca import env

Line = str | Sequence[object]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    service: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], Iterable[Line]]
    # Options whose value may start with "-" (-p -1, -t -1:-1), which argparse would otherwise
    # take for an option.
    dash_values: frozenset[str] = frozenset()


class Context:
    """Clients for the command, built on first use from the options and the environment."""

    def __init__(self, command: Command, args: argparse.Namespace, environ: Mapping[str, str]):
        self.command = command
        self.args = args
        self.environ = environ
        self._clients: dict[str, Any] = {}
        # The endpoint of the last client made, to name it when it cannot be reached.
        self.endpoint: str | None = None

    def url(self, service: str) -> str:
        override = self.args.url if service == self.command.service else None
        return env.endpoint_url(service, self.environ, override)

    def client(self, service: str | None = None) -> Any:
        """A botocore client for `service` (default: the command's own)."""
        name = service or self.command.service
        if name not in self._clients:
            self._clients[name] = self._make_client(name)
        self.endpoint = self._clients[name].meta.endpoint_url
        return self._clients[name]

    def _make_client(self, service: str) -> Any:
        from mallee.euca.clients import make_client

        keys = env.credentials(
            self.environ, self.args.access_key_id, self.args.secret_key, self.args.security_token
        )
        return make_client(
            service, self.url(service), env.region(self.environ, self.args.region), keys
        )
