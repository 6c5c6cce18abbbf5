"""The datapoints the cloud publishes about its own resources, as AWS names them: AWS/EC2 per
instance (and aggregated by image, instance type, Auto Scaling group and over all instances)
and AWS/EBS per volume, from one period's growth of their counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mallee.controller.metric_intervals import Interval
from mallee.metrics.points import Datum

# The columns of InstanceCounters / InstanceMetricSource the publisher reads, in this order.
INSTANCE_COUNTERS = (
    "cpu_seconds",
    "disk_read_bytes",
    "disk_write_bytes",
    "disk_read_ops",
    "disk_write_ops",
    "net_in_bytes",
    "net_out_bytes",
    "net_in_packets",
    "net_out_packets",
)
# The columns of VolumeCounters / VolumeMetricSource, in this order.
VOLUME_COUNTERS = (
    "read_bytes",
    "write_bytes",
    "read_ops",
    "write_ops",
    "read_seconds",
    "write_seconds",
)
# AWS/EC2 name and unit of each counter but the CPU's (a percentage of the period).
_EC2_SUMS = {
    "disk_read_bytes": ("DiskReadBytes", "Bytes"),
    "disk_write_bytes": ("DiskWriteBytes", "Bytes"),
    "disk_read_ops": ("DiskReadOps", "Count"),
    "disk_write_ops": ("DiskWriteOps", "Count"),
    "net_in_bytes": ("NetworkIn", "Bytes"),
    "net_out_bytes": ("NetworkOut", "Bytes"),
    "net_in_packets": ("NetworkPacketsIn", "Count"),
    "net_out_packets": ("NetworkPacketsOut", "Count"),
}
_EBS_SUMS = {
    "read_bytes": ("VolumeReadBytes", "Bytes"),
    "write_bytes": ("VolumeWriteBytes", "Bytes"),
    "read_ops": ("VolumeReadOps", "Count"),
    "write_ops": ("VolumeWriteOps", "Count"),
    "read_seconds": ("VolumeTotalReadTime", "Seconds"),
    "write_seconds": ("VolumeTotalWriteTime", "Seconds"),
}
# Basic monitoring: 5-minute periods; detailed (MonitorInstances, RunInstances Monitoring): 1.
BASIC_PERIOD = 300
DETAILED_PERIOD = 60
# EBS sends 1-minute metrics for every volume.
EBS_PERIOD = 60
ASG_TAG = "aws:autoscaling:groupName"

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """What an instance's datapoints are filed under."""

    account_id: str
    instance_id: str
    image_id: str
    instance_type: str
    vcpus: int
    detailed: bool
    group: str = ""

    @property
    def period(self) -> int:
        return DETAILED_PERIOD if self.detailed else BASIC_PERIOD


def dimension_sets(facts: InstanceFacts) -> list[Dimensions]:
    """Each datapoint of an instance goes under these: its own id, its Auto Scaling group (for
    either kind of monitoring) and, with detailed monitoring only, its image, its type and the
    aggregate over all instances (no dimension), as AWS offers them."""
    sets: list[Dimensions] = [(("InstanceId", facts.instance_id),)]
    if facts.group:
        sets.append((("AutoScalingGroupName", facts.group),))
    if facts.detailed:
        sets += [(("ImageId", facts.image_id),), (("InstanceType", facts.instance_type),), ()]
    return sets


def ec2_values(facts: InstanceFacts, interval: Interval) -> list[tuple[str, str, float]]:
    """(metric, unit, value) of one period's growth of an instance's counters."""
    grown = dict(zip(INSTANCE_COUNTERS, interval.deltas, strict=True))
    out: list[tuple[str, str, float]] = []
    if interval.seconds > 0:
        # QEMU's CPU time is all its threads'; capped, since its I/O threads may add a little
        # on top of the vCPUs' own.
        busy = grown["cpu_seconds"] / (interval.seconds * max(1, facts.vcpus))
        out.append(("CPUUtilization", "Percent", min(100.0, max(0.0, 100.0 * busy))))
    out += [(name, unit, float(round(grown[key]))) for key, (name, unit) in _EC2_SUMS.items()]
    return out


def ec2_data(facts: InstanceFacts, interval: Interval) -> list[Datum]:
    return [
        _datum(facts.account_id, "AWS/EC2", name, dims, interval.start, unit, value)
        for name, unit, value in ec2_values(facts, interval)
        for dims in dimension_sets(facts)
    ]


def status_data(facts: InstanceFacts, start: float, system: bool, instance: bool) -> list[Datum]:
    """StatusCheckFailed_System (its node silent), _Instance (its VM not running while it
    should) and StatusCheckFailed (either), 1 for failed and 0 for passed."""
    values = (
        ("StatusCheckFailed", float(system or instance)),
        ("StatusCheckFailed_Instance", float(instance)),
        ("StatusCheckFailed_System", float(system)),
    )
    return [
        _datum(facts.account_id, "AWS/EC2", name, dims, start, "Count", value)
        for name, value in values
        for dims in dimension_sets(facts)
    ]


def ebs_values(interval: Interval) -> list[tuple[str, str, float]]:
    """(metric, unit, value) of one period's growth of a volume's counters."""
    grown = dict(zip(VOLUME_COUNTERS, interval.deltas, strict=True))
    out = [
        (name, unit, grown[key] if unit == "Seconds" else float(round(grown[key])))
        for key, (name, unit) in _EBS_SUMS.items()
    ]
    if interval.seconds > 0:
        # Little's law: the operations' total time over the period is how many were in flight
        # on average.
        busy = grown["read_seconds"] + grown["write_seconds"]
        out.append(("VolumeQueueLength", "Count", busy / interval.seconds))
    return out


def ebs_data(account_id: str, volume_id: str, interval: Interval) -> list[Datum]:
    dims: Dimensions = (("VolumeId", volume_id),)
    return [
        _datum(account_id, "AWS/EBS", name, dims, interval.start, unit, value)
        for name, unit, value in ebs_values(interval)
    ]


def combine(data: Sequence[Datum]) -> list[Datum]:
    """The datapoints with one metric, time and unit merged into one statistic set (with all
    their values): the aggregates of many instances cost the store one row update each."""
    merged: dict[tuple[Any, ...], list[Datum]] = {}
    for d in data:
        key = (d.account_id, d.namespace, d.name, d.dimensions, d.timestamp, d.unit, d.resolution)
        merged.setdefault(key, []).append(d)
    out = []
    for group in merged.values():
        first = group[0]
        if len(group) == 1:
            out.append(first)
            continue
        values: dict[float, float] = {}
        for d in group:
            for value, count in d.values:
                values[value] = values.get(value, 0.0) + count
        out.append(
            replace(
                first,
                count=sum(d.count for d in group),
                sum=sum(d.sum for d in group),
                minimum=min(d.minimum for d in group),
                maximum=max(d.maximum for d in group),
                values=tuple(values.items()),
            )
        )
    return out


def _datum(
    account_id: str,
    namespace: str,
    name: str,
    dimensions: Dimensions,
    timestamp: float,
    unit: str,
    value: float,
) -> Datum:
    return Datum(
        account_id=account_id,
        namespace=namespace,
        name=name,
        dimensions=dimensions,
        timestamp=timestamp,
        unit=unit,
        count=1.0,
        sum=value,
        minimum=value,
        maximum=value,
        values=((value, 1.0),),
    )
