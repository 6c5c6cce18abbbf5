"""`python -m mallee.cli.metadata`: a node's instance metadata server (see
mallee.node.network.metadata), given the gateway's internal call to mint role credentials."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mallee.node.network.metadata import serve
from mallee.services.base import Result
from mallee.store import Store

Assume = Callable[[str, str], Result | None]

# Importing and wiring every service for the internal call costs seconds of CPU. A VPC's
# server starts as its first guest boots on the same cores, and the guest's boot waits for
# its instance id, not for role credentials: the call is built this long after the start, or
# at the first request that needs it, whichever comes first.
WARM_AFTER = 10.0


def deferred_assumer(store: Store, region: str, warm_after: float = WARM_AFTER) -> Assume:
    lock = threading.Lock()
    made: list[Assume] = []

    def build() -> Assume:
        with lock:
            if not made:
                from mallee.gateway.internal import instance_role_assumer

                made.append(instance_role_assumer(store, region))
            return made[0]

    timer = threading.Timer(warm_after, build)
    timer.daemon = True
    timer.start()

    def assume(role_arn: str, instance_id: str) -> Result | None:
        return build()(role_arn, instance_id)

    return assume


def main(argv: list[str] | None = None) -> int:
    return serve(argv, deferred_assumer)


if __name__ == "__main__":
    raise SystemExit(main())
