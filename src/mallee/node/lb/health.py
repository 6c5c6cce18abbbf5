"""What HAProxy's health checks say of each back end, in DescribeInstanceHealth's terms."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from mallee.node.lb.config import HEALTH_BACKEND

IN_SERVICE = "InService"
OUT_OF_SERVICE = "OutOfService"
FAILED = (
    "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."
)
REGISTERING = "Instance registration is still in progress."


@dataclass(frozen=True, slots=True)
class Health:
    state: str
    reason_code: str
    description: str


IN = Health(IN_SERVICE, "N/A", "N/A")
DOWN = Health(OUT_OF_SERVICE, "Instance", FAILED)
NEW = Health(OUT_OF_SERVICE, "ELB", REGISTERING)


def parse_stat(text: str) -> dict[str, Health]:
    """instance id -> its health, from `show stat` (CSV whose header starts with "# ")."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("not the output of `show stat`")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    found = {}
    for row in reader:
        if row.get("pxname") != HEALTH_BACKEND or row.get("svname") in ("BACKEND", "FRONTEND"):
            continue
        status, check = row.get("status") or "", row.get("check_status") or ""
        found[str(row["svname"])] = health_of(status, check)
    return found


def health_of(status: str, check_status: str) -> Health:
    """A server's `status` ("UP", "UP 1/3" going down, "DOWN", "DOWN 1/2" coming up, ...)
    and `check_status` (INI: no check finished yet) as AWS reports an instance."""
    if check_status.strip("* ") in ("", "INI"):
        return NEW
    return IN if status.split(" ")[0] == "UP" else DOWN
