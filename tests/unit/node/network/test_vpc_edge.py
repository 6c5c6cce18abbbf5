"""The VPC reconciler keeps going when one VPC's namespace fails to apply."""

from __future__ import annotations

import dataclasses
from typing import cast

import pytest

from mallee.node.network import vpc_edge
from mallee.node.network.vpc_edge import VpcReconciler
from mallee.node.network.vpc_rules import VpcPlan, node_plans
from mallee.store.db import Store
from tests.unit.node.network.test_vpc_rules import CLOUD, VNI, _state


def _two_plans() -> dict[str, VpcPlan]:
    state = _state()
    other = dataclasses.replace(state.vpcs[0], id="vpc-2", vni=VNI * 2)
    plans = node_plans(dataclasses.replace(state, vpcs=(state.vpcs[0], other)), CLOUD)
    assert len(plans) == 2
    return plans


def test_one_failing_vpc_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = _two_plans()
    bad, good = sorted(plans)
    applied: list[str] = []

    def apply_vpc(plan: VpcPlan, *_: object) -> None:
        if plan.netns == bad:
            raise RuntimeError("RTNETLINK answers: File exists")
        applied.append(plan.netns)

    monkeypatch.setattr(vpc_edge, "apply_vpc", apply_vpc)
    monkeypatch.setattr(vpc_edge, "apply_nat", lambda *_: None)
    monkeypatch.setattr(vpc_edge, "set_proxies", lambda *_: None)
    monkeypatch.setattr(VpcReconciler, "_stale", lambda self, vpcs, nats: [])
    r = VpcReconciler(
        cast(Store, None), cloud_id=CLOUD, node_name="n1", netns="node", public_ip="198.51.100.1"
    )
    assert r.apply(plans, 3)
    assert applied == [good]
    assert set(r.applied) == {good}  # the failed one is retried, from scratch
    assert r.generation == 3
    applied.clear()
    monkeypatch.setattr(vpc_edge, "apply_vpc", lambda plan, *_: applied.append(plan.netns))
    assert r.apply(plans, 3)
    assert applied == [bad] and set(r.applied) == {bad, good}
