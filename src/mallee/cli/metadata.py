"""`python -m mallee.cli.metadata`: a node's instance metadata server (see
mallee.node.network.metadata), given the gateway's internal call to mint role credentials."""

from __future__ import annotations

from mallee.gateway.internal import instance_role_assumer
from mallee.node.network.metadata import serve


def main(argv: list[str] | None = None) -> int:
    return serve(argv, instance_role_assumer)


if __name__ == "__main__":
    raise SystemExit(main())
