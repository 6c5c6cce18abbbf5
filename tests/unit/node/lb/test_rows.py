"""The worker's view of the ELB rows (rows.py) and the health rows it writes (workers.py)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mallee.cloud_identity import system_account_id
from mallee.node.lb.desired import Listener, Policy, Registered
from mallee.node.lb.rows import balancers, placed_elsewhere, workers
from mallee.node.lb.workers import ElbWorkers, _Running
from mallee.node.network.names import lb_netns_for
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.elb import (
    ElbBackendPolicies,
    ElbInstance,
    ElbInstanceHealth,
    ElbListener,
    ElbLoadBalancer,
    ElbPolicy,
    ElbWorker,
)

LB = "0123456789ab"
WORKER = "elbw-0123456789abcdef0"


def seed(store: Store) -> None:
    ensure_system_account(store)
    account = system_account_id(store)
    now = dt.datetime.now(dt.UTC)
    with store.session() as s:
        s.add(ElbLoadBalancer(id=LB, account_id=account, name="web", created_at=now,
                              dns_name="web", hc_target="HTTP:80/ping",
                              cross_zone=True))  # fmt: skip
        s.flush()
        s.add(ElbListener(lb_id=LB, lb_port=80, protocol="HTTP", instance_port=8080,
                          instance_protocol="HTTP", policy_names='["sticky"]'))  # fmt: skip
        s.add(ElbPolicy(lb_id=LB, name="sticky", type_name="LBCookieStickinessPolicyType",
                        attributes='[["CookieExpirationPeriod", "30"]]'))  # fmt: skip
        s.add(ElbBackendPolicies(lb_id=LB, instance_port=8080, policy_names='["sticky"]'))
        for iid, ip, drain in (("i-aaaa", "10.0.0.2", None), ("i-bbbb", None, 5.0)):
            s.add(Ec2Instance(id=iid, account_id=account, reservation_id="r-1", image_id="emi-1",
                              instance_type="m1.small", cores=1, memory_mb=128, disk_gb=1,
                              availability_zone="one", state="running", private_ip=ip,
                              launch_time=now, state_changed_at=time.time()))  # fmt: skip
            s.add(ElbInstance(lb_id=LB, instance_id=iid, registered_at=now, drain_until=drain))
        s.add(ElbWorker(id=WORKER, lb_id=LB, zone="one", node="n1", public_ip="203.0.113.150",
                        created_at=now))  # fmt: skip
        s.add(ElbWorker(id="elbw-1", lb_id=LB, zone="two", node="n2", created_at=now))


def test_rows_read_into_plain_values(store: Store) -> None:
    seed(store)
    with store.read() as s:
        mine = workers(s, "n1")
        found = balancers(s, {LB, "gone"})
        elsewhere = placed_elsewhere(s, [WORKER, "elbw-1"], "n1")
    assert [(w.id, w.zone, w.state, w.public_ip) for w in mine] == [
        (WORKER, "one", "pending", "203.0.113.150")
    ]
    assert set(found) == {LB}
    lb = found[LB]
    assert lb.hc_target == "HTTP:80/ping" and lb.cross_zone and lb.idle_timeout == 60
    assert lb.listeners == (Listener(80, "HTTP", 8080, "HTTP", "", ("sticky",)),)
    assert lb.policies["sticky"] == Policy(
        "sticky", "LBCookieStickinessPolicyType", (("CookieExpirationPeriod", "30"),)
    )
    assert lb.backend_policies == {8080: ("sticky",)}
    assert lb.registered == (
        Registered("i-aaaa", "running", "10.0.0.2", "one", None),
        Registered("i-bbbb", "running", None, "one", 5.0),
    )
    assert elsewhere == {"elbw-1"}


class FakeHaproxy:
    def __init__(self, stat: str) -> None:
        self.stat = stat

    def command(self, line: str) -> str:
        assert line in ("show stat", "show info;show stat")  # health, counters
        return self.stat


def health_rows(store: Store) -> dict[str, tuple[str, float]]:
    h = ElbInstanceHealth
    with store.read() as s:
        rows = s.execute(select(h.instance_id, h.state, h.updated_at)).all()
    return {iid: (state, at) for iid, state, at in rows}


def test_health_is_written_only_when_it_changes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(store)
    agent = ElbWorkers(store, cloud_id="0badcafe", node_name="n1", data_dir=tmp_path)
    header = "# pxname,svname,status,check_status\n"
    fake = FakeHaproxy(header + "hc,i-aaaa,UP,L7OK\nhc,i-bbbb,DOWN,L4CON\n")
    monkeypatch.setattr(agent, "haproxy", lambda worker_id: fake)
    agent._running[WORKER] = _Running(LB, ("i-aaaa", "i-bbbb"))
    agent.report_health()
    first = health_rows(store)
    assert {k: v[0] for k, v in first.items()} == {"i-aaaa": "InService", "i-bbbb": "OutOfService"}
    agent.report_health()
    assert health_rows(store) == first  # nothing rewritten
    fake.stat = header + "hc,i-aaaa,UP,L7OK\nhc,i-bbbb,UP,L7OK\n"
    agent.report_health()
    now = health_rows(store)
    assert now["i-aaaa"] == first["i-aaaa"] and now["i-bbbb"][0] == "InService"
    # A back end no longer configured loses its row.
    agent._running[WORKER] = _Running(LB, ("i-aaaa",))
    agent.report_health()
    assert set(health_rows(store)) == {"i-aaaa"}
    # A restarted agent starts from what the database holds.
    again = ElbWorkers(store, cloud_id="0badcafe", node_name="n1", data_dir=tmp_path)
    monkeypatch.setattr(again, "haproxy", lambda worker_id: fake)
    again._running[WORKER] = _Running(LB, ("i-aaaa",))
    again.report_health()
    assert health_rows(store) == {"i-aaaa": now["i-aaaa"]}


def test_worker_namespace_names() -> None:
    assert (
        lb_netns_for("0badcafe", "elbw-0123456789abcdef0") == "mallee-0badcafe-lb-0123456789abcdef0"
    )
    for bad in ("elbw-XYZ", "i-1234", "elbw-", "elbw-12 ;x"):
        with pytest.raises(ValueError):
            lb_netns_for("0badcafe", bad)
