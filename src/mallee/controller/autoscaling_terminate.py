"""Which of a group's instances a scale-in terminates: AWS's termination policies.

Victims are chosen one at a time, so each pick sees the zones as the previous picks left them.
Every policy first narrows to the zones with the most instances (AWS keeps the group balanced
whatever the policy), then each of the group's policies in order keeps the candidates it
prefers; what is still tied goes through Default's steps (oldest launch configuration or
template, then closest to the next instance hour), and the lowest instance id settles the rest
so a restarted controller picks the same one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Candidate:
    instance_id: str
    zone: str
    launched_at: float
    launch_configuration_name: str
    launch_template: str
    # When its launch configuration was made; None when it has none (or it was deleted).
    config_created_at: float | None = None


@dataclass(frozen=True, slots=True)
class GroupLaunchSource:
    """What the group launches with now (its current launch template, for OldestLaunchTemplate)."""

    launch_template: str


Rule = Callable[[Sequence[Candidate], GroupLaunchSource, float], list[Candidate]]


def _best(cands: Sequence[Candidate], score: Callable[[Candidate], float]) -> list[Candidate]:
    low = min(score(c) for c in cands)
    return [c for c in cands if score(c) == low]


def _oldest_instance(
    cands: Sequence[Candidate], _: GroupLaunchSource, __: float
) -> list[Candidate]:
    return _best(cands, lambda c: c.launched_at)


def _newest_instance(
    cands: Sequence[Candidate], _: GroupLaunchSource, __: float
) -> list[Candidate]:
    return _best(cands, lambda c: -c.launched_at)


def _oldest_config(cands: Sequence[Candidate], _: GroupLaunchSource, __: float) -> list[Candidate]:
    # Instances of a launch template have no launch configuration: the policy leaves them be
    # unless nothing else is left.
    with_config = [c for c in cands if c.launch_configuration_name]
    if not with_config:
        return list(cands)
    return _best(
        with_config,
        lambda c: float("-inf") if c.config_created_at is None else c.config_created_at,
    )


def _oldest_template(
    cands: Sequence[Candidate], group: GroupLaunchSource, _: float
) -> list[Candidate]:
    templated = [c for c in cands if c.launch_template]
    if not templated:
        return list(cands)
    # An instance not on the group's current template (or version) goes first.
    stale = [c for c in templated if c.launch_template != group.launch_template]
    return stale or templated


def _closest_to_hour(
    cands: Sequence[Candidate], _: GroupLaunchSource, now: float
) -> list[Candidate]:
    return _best(cands, lambda c: HOUR - ((now - c.launched_at) % HOUR))


def _allocation(cands: Sequence[Candidate], _: GroupLaunchSource, __: float) -> list[Candidate]:
    # Only a mixed instances policy has an allocation to keep; a group without one keeps all.
    return list(cands)


_DEFAULT_STEPS: tuple[Rule, ...] = (_oldest_config, _oldest_template, _closest_to_hour)

POLICIES: dict[str, Rule] = {
    "OldestInstance": _oldest_instance,
    "NewestInstance": _newest_instance,
    "OldestLaunchConfiguration": _oldest_config,
    "OldestLaunchTemplate": _oldest_template,
    "ClosestToNextInstanceHour": _closest_to_hour,
    "AllocationStrategy": _allocation,
}


def _busiest_zones(cands: Sequence[Candidate]) -> list[Candidate]:
    counts = Counter(c.zone for c in cands)
    most = max(counts.values())
    return [c for c in cands if counts[c.zone] == most]


def pick_one(
    cands: Sequence[Candidate], policies: Sequence[str], group: GroupLaunchSource, now: float
) -> Candidate:
    left = _busiest_zones(cands)
    for name in [*policies, "Default"]:
        if len(left) == 1:
            break
        steps = (
            _DEFAULT_STEPS if name == "Default" else (POLICIES[name],) if name in POLICIES else ()
        )
        for step in steps:
            left = step(left, group, now)
            if len(left) == 1:
                break
    return min(left, key=lambda c: c.instance_id)


def choose(
    cands: Sequence[Candidate],
    count: int,
    policies: Sequence[str],
    group: GroupLaunchSource,
    now: float,
) -> list[Candidate]:
    """Up to `count` victims among `cands`, in the order they are picked."""
    left = list(cands)
    out: list[Candidate] = []
    while left and len(out) < count:
        victim = pick_one(left, policies, group, now)
        out.append(victim)
        left.remove(victim)
    return out
