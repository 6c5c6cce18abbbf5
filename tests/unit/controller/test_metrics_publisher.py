"""The built-in metrics publisher against a real store: counters in, AWS/EC2 and AWS/EBS
statistics out, once per period across restarts and racing controllers."""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest

from mallee.cloud_identity import system_account_id
from mallee.controller.metrics_publisher import CHECK_EVERY, MetricsPublisher, PublisherThread
from mallee.ids import new_id
from mallee.metrics import store as metric_store
from mallee.metrics.points import Bucket
from mallee.services.iam.bootstrap import ensure_system_account
from mallee.store import Store
from mallee.store.tables.compute import InstanceCounters, VolumeCounters
from mallee.store.tables.ebs import Ec2Volume
from mallee.store.tables.ec2 import Ec2Instance, Ec2Tag
from mallee.store.upsert import upsert

# A minute boundary comfortably in the past, so every period the tests make has closed.
T0 = float(math.floor(time.time() / 300) * 300 - 1800)


def instance(store: Store, *, detailed: bool = True, cores: int = 1, group: str = "") -> str:
    ensure_system_account(store)
    account = system_account_id(store)
    iid = new_id("i")
    with store.session() as s:
        s.add(
            Ec2Instance(
                id=iid,
                account_id=account,
                reservation_id="r-1",
                image_id="emi-12345678",
                instance_type="m1.small",
                cores=cores,
                memory_mb=256,
                disk_gb=5,
                availability_zone="one",
                launch_time=dt.datetime.now(dt.UTC),
                state="running",
                node="n1",
                monitoring=detailed,
                state_changed_at=T0 - 100,
            )
        )
        if group:
            s.add(
                Ec2Tag(
                    resource_id=iid,
                    key="aws:autoscaling:groupName",
                    value=group,
                    account_id=account,
                    resource_type="instance",
                )
            )
    return iid


def sample(store: Store, iid: str, at: float, cpu: float, net: int = 0, boot: float = 0) -> None:
    with store.session() as s:
        upsert(
            s,
            InstanceCounters,
            [{"instance_id": iid, "sampled_at": at, "booted_at": boot, "cpu_seconds": cpu,
              "net_in_bytes": net, "net_out_bytes": net // 2}],
        )  # fmt: skip


def stats(
    store: Store, name: str, dims: list[tuple[str, str]], period: int = 60, ns: str = "AWS/EC2"
) -> list[Bucket]:
    with store.read() as s:
        return metric_store.statistics(
            s, system_account_id(store), ns, name, dims, T0 - 600, T0 + 3600, period
        )


def run_samples(
    store: Store, pub: MetricsPublisher, iid: str, start: float, end: float, rate: float
) -> None:
    """Samples every 5 s from `start` to `end` of a VM burning `rate` CPU seconds a second
    since T0 - 5, each published as the controller would."""
    at = start
    while at <= end:
        sample(store, iid, at, cpu=rate * (at - T0 + 5), net=int(1000 * (at - T0 + 5)))
        pub.run(store, now=at + 1, silent_nodes=set())
        at += 5


def test_detailed_monitoring_publishes_a_minute_of_cpu_under_every_dimension(store: Store) -> None:
    iid = instance(store, cores=2, group="web")
    run_samples(store, MetricsPublisher(), iid, T0, T0 + 185, rate=1.0)
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    # One vCPU's worth of two: 50%, one datapoint a minute (the first from T0 on).
    assert [b.timestamp for b in cpu] == [T0, T0 + 60, T0 + 120]
    assert all(b.count == 1 and b.average == pytest.approx(50) for b in cpu)
    assert all(b.unit == "Percent" for b in cpu)
    net = stats(store, "NetworkIn", [("InstanceId", iid)])
    assert [b.sum for b in net] == [60000, 60000, 60000]
    for dims in ([("ImageId", "emi-12345678")], [("InstanceType", "m1.small")], [],
                 [("AutoScalingGroupName", "web")]):  # fmt: skip
        assert [b.average for b in stats(store, "CPUUtilization", dims)] == [pytest.approx(50)] * 3


def test_basic_monitoring_publishes_five_minute_periods_under_its_id_only(store: Store) -> None:
    iid = instance(store, detailed=False)
    run_samples(store, MetricsPublisher(), iid, T0, T0 + 605, rate=0.25)
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)], period=300)
    assert [(b.timestamp, b.count) for b in cpu] == [(T0, 1), (T0 + 300, 1)]
    assert cpu[0].average == pytest.approx(25)
    assert stats(store, "CPUUtilization", [("InstanceType", "m1.small")], period=300) == []


def test_a_restarted_controller_neither_repeats_nor_skips_a_period(store: Store) -> None:
    iid = instance(store)
    run_samples(store, MetricsPublisher(), iid, T0, T0 + 95, rate=0.5)
    # A new controller (nothing in memory) picks up from the boundary the rows say.
    run_samples(store, MetricsPublisher(), iid, T0 + 100, T0 + 245, rate=0.5)
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    assert [(b.timestamp, b.count) for b in cpu] == [(T0 + 60 * k, 1) for k in range(4)]
    assert all(b.average == pytest.approx(50) for b in cpu)


def test_a_controller_that_lost_the_race_stores_nothing(store: Store) -> None:
    iid = instance(store)
    first, second = MetricsPublisher(), MetricsPublisher()
    run_samples(store, first, iid, T0, T0 + 55, rate=0.5)
    run_samples(store, second, iid, T0 + 55, T0 + 55, rate=0.5)
    sample(store, iid, T0 + 65, cpu=0.5 * 70, net=70000)
    # Both read the same rows; the second stores after the first moved them.
    late = second._instance_steps(store, T0 + 66, set())
    assert first.run(store, now=T0 + 66, silent_nodes=set()) > 0
    assert second._store(store, late) == 0
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    assert [(b.timestamp, b.count) for b in cpu] == [(T0, 1)]


def test_a_reboot_starts_the_counters_over_without_a_negative_or_double_period(
    store: Store,
) -> None:
    iid = instance(store)
    pub = MetricsPublisher()
    for k in range(0, 13):  # one minute at 100%, booted at T0 - 5
        at = T0 + 5 * k
        sample(store, iid, at, cpu=at - T0 + 5, boot=T0 - 5)
        pub.run(store, now=at + 1, silent_nodes=set())
    # Rebooted at T0 + 70: a new process whose counters start at zero, burning 50%.
    for k in range(0, 12):
        at = T0 + 75 + 5 * k
        sample(store, iid, at, cpu=0.5 * (at - T0 - 70), boot=T0 + 70)
        pub.run(store, now=at + 1, silent_nodes=set())
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    # Counted from the boot: the 5 s before T0 are the previous minute's.
    assert [b.timestamp for b in cpu] == [T0 - 60, T0, T0 + 60]
    assert [b.average for b in cpu[:2]] == [pytest.approx(100)] * 2
    # T0+60..T0+70 of the old process is lost with it; T0+70..T0+120 ran at 50%.
    assert cpu[2].average == pytest.approx(50)


def test_status_checks_follow_the_node_and_the_vm(store: Store) -> None:
    iid = instance(store)
    pub = MetricsPublisher()
    sample(store, iid, T0 + 1, cpu=1)
    pub.run(store, now=T0 + 2, silent_nodes=set())  # counting starts with the next period
    sample(store, iid, T0 + 61, cpu=2)
    pub.run(store, now=T0 + 62, silent_nodes=set())  # all well
    pub.run(store, now=T0 + 125, silent_nodes={"n1"})  # its node went silent
    pub.run(store, now=T0 + 185, silent_nodes=set())  # back, but the VM sends nothing
    system = stats(store, "StatusCheckFailed_System", [("InstanceId", iid)])
    own = stats(store, "StatusCheckFailed_Instance", [("InstanceId", iid)])
    either = stats(store, "StatusCheckFailed", [("InstanceId", iid)])
    assert [(b.timestamp, b.sum) for b in system] == [(T0, 0), (T0 + 60, 1), (T0 + 120, 0)]
    assert [(b.timestamp, b.sum) for b in own] == [(T0, 0), (T0 + 60, 0), (T0 + 120, 1)]
    assert [b.sum for b in either] == [0, 1, 1]


def test_status_checks_of_a_vm_that_never_reported(store: Store) -> None:
    iid = instance(store)
    pub = MetricsPublisher()
    pub.run(store, now=T0 + 2, silent_nodes=set())
    pub.run(store, now=T0 + 62, silent_nodes=set())
    own = stats(store, "StatusCheckFailed_Instance", [("InstanceId", iid)])
    assert [(b.timestamp, b.sum) for b in own] == [(T0, 1)]
    # Its first report later is counted from there, not as growth since the row was made.
    run_samples(store, pub, iid, T0 + 65, T0 + 185, rate=0.5)
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    assert [b.timestamp for b in cpu] == [T0 + 60, T0 + 120]
    assert cpu[1].average == pytest.approx(50)


def test_an_attached_volume_publishes_its_io_per_minute(store: Store) -> None:
    iid = instance(store)
    vid = new_id("vol")
    with store.session() as s:
        s.add(
            Ec2Volume(
                id=vid,
                account_id=system_account_id(store),
                availability_zone="one",
                size_gib=1,
                state="in-use",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    pub = MetricsPublisher()
    for k in range(0, 26):
        at = T0 + 5 * k
        with store.session() as s:
            upsert(
                s,
                VolumeCounters,
                [{"volume_id": vid, "instance_id": iid, "sampled_at": at,
                  "read_bytes": 4096 * k, "read_ops": k, "write_bytes": 0, "write_ops": 0,
                  "read_seconds": 0.5 * k, "write_seconds": 0.0}],
            )  # fmt: skip
        pub.run(store, now=at + 1, silent_nodes=set())
    dims = [("VolumeId", vid)]
    read = stats(store, "VolumeReadBytes", dims, ns="AWS/EBS")
    assert [(b.timestamp, b.sum) for b in read] == [(T0, 4096 * 12), (T0 + 60, 4096 * 12)]
    assert [b.sum for b in stats(store, "VolumeReadOps", dims, ns="AWS/EBS")] == [12, 12]
    time_ = stats(store, "VolumeTotalReadTime", dims, ns="AWS/EBS")
    assert [b.sum for b in time_] == [pytest.approx(6)] * 2
    queue = stats(store, "VolumeQueueLength", dims, ns="AWS/EBS")
    assert [b.average for b in queue] == [pytest.approx(0.1)] * 2


def test_rows_of_gone_instances_are_forgotten(store: Store) -> None:
    from mallee.store.tables.metric_sources import InstanceMetricSource

    iid = instance(store)
    pub = MetricsPublisher()
    run_samples(store, pub, iid, T0, T0 + 10, rate=0.1)
    with store.session() as s:
        row = s.get(Ec2Instance, iid)
        assert row is not None
        row.state = "terminated"
    pub.forget_gone(store)
    with store.read() as s:
        assert s.get(InstanceMetricSource, iid) is None


def test_the_publisher_thread_publishes_only_while_its_controller_is_active(store: Store) -> None:
    iid = instance(store)
    asked: list[float] = []

    def silent(_store: Store, now: float) -> set[str]:
        asked.append(now)
        return set()

    thread = PublisherThread(store, silent)
    sample(store, iid, T0 + 2, cpu=1.0)
    thread.step(T0 + 3)  # anchors the instance
    sample(store, iid, T0 + 62, cpu=31.0)
    assert thread.step(T0 + 63) > 0
    # Not due again before PUBLISH_EVERY.
    assert thread.step(T0 + 64) == 0 and len(asked) == 2
    cpu = stats(store, "CPUUtilization", [("InstanceId", iid)])
    assert [b.timestamp for b in cpu] == [T0] and cpu[0].average == pytest.approx(50.0)
    # The thread itself: nothing while standby; a pass once active; stopped on demand.
    thread.start()
    time.sleep(CHECK_EVERY * 2)
    assert len(asked) == 2
    thread.set_active(True)
    deadline = time.monotonic() + 10
    while len(asked) == 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    thread.stop()
    assert len(asked) == 3
