"""Instance types: the seed's 18 Eucalyptus types, DescribeInstanceTypes in AWS's shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.store import Store
from mallee.store.tables.ec2 import Ec2InstanceType

# name, cpus, memory MiB, disk GB: the table in the seed's release notes, in its order.
SEED_TYPES: tuple[tuple[str, int, int, int], ...] = (
    ("m1.small", 1, 256, 5),
    ("t1.micro", 1, 256, 5),
    ("m1.medium", 1, 512, 10),
    ("c1.medium", 2, 512, 10),
    ("m1.large", 2, 512, 10),
    ("m1.xlarge", 2, 1024, 10),
    ("c1.xlarge", 2, 2048, 10),
    ("m2.xlarge", 2, 2048, 10),
    ("m3.xlarge", 4, 2048, 15),
    ("m2.2xlarge", 2, 4096, 30),
    ("m3.2xlarge", 4, 4096, 30),
    ("cc1.4xlarge", 8, 3072, 60),
    ("m2.4xlarge", 8, 4096, 60),
    ("hi1.4xlarge", 8, 6144, 120),
    ("cc2.8xlarge", 16, 6144, 120),
    ("cg1.4xlarge", 16, 12288, 200),
    ("cr1.8xlarge", 16, 16384, 240),
    ("hs1.8xlarge", 48, 119808, 24000),
)


def ensure_instance_types(store: Store) -> None:
    """Insert the seed's types that are missing; edited ones are left as the admin set them."""
    with store.session() as s:
        have = set(s.scalars(select(Ec2InstanceType.name)).all())
        for rank, (name, cores, memory, disk) in enumerate(SEED_TYPES):
            if name not in have:
                s.add(
                    Ec2InstanceType(
                        name=name, cores=cores, memory_mb=memory, disk_gb=disk, rank=rank
                    )
                )


def get_type(s: Session, name: str) -> Ec2InstanceType:
    found = s.get(Ec2InstanceType, name)
    if found is None:
        raise errors.unknown_instance_type(name)
    return found


def all_types(s: Session) -> list[Ec2InstanceType]:
    return list(s.scalars(select(Ec2InstanceType).order_by(Ec2InstanceType.rank)).all())


def type_out(t: Ec2InstanceType) -> dict[str, Any]:
    return {
        "InstanceType": t.name,
        "CurrentGeneration": True,
        "FreeTierEligible": t.name == "t1.micro",
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["instance-store", "ebs"],
        "SupportedVirtualizationTypes": ["paravirtual", "hvm"],
        "BareMetal": False,
        "Hypervisor": "xen",
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        "VCpuInfo": {"DefaultVCpus": t.cores, "DefaultCores": t.cores, "DefaultThreadsPerCore": 1},
        "MemoryInfo": {"SizeInMiB": t.memory_mb},
        "InstanceStorageSupported": True,
        "InstanceStorageInfo": {
            "TotalSizeInGB": t.disk_gb,
            "Disks": [{"SizeInGB": t.disk_gb, "Count": 1, "Type": "hdd"}],
        },
        "EbsInfo": {"EbsOptimizedSupport": "unsupported"},
        "NetworkInfo": {"NetworkPerformance": "Moderate", "MaximumNetworkInterfaces": 1},
    }


# The API version AWS's DescribeInstanceTypes arrived in; older clients mean Eucalyptus'.
_AWS_SHAPE_SINCE = "2016-11-15"


def _eucalyptus_style(ctx: RequestContext) -> bool:
    """A request as Eucalyptus' own clients send it: at Eucalyptus' legacy EC2 path (Libcloud's
    Eucalyptus driver), or with an API version from before AWS had this operation (euca2ools 3).
    They read Eucalyptus' `instanceTypeDetails`; boto3 and the AWS CLI read `instanceTypeSet`."""
    if ctx.http.script_name.lower() == "/services/eucalyptus":
        return True
    version = ctx.http.form_params().get("Version", _AWS_SHAPE_SINCE)
    return version < _AWS_SHAPE_SINCE


_FILTERS = {
    "instance-type": lambda t: t.name,
    "vcpu-info.default-vcpus": lambda t: t.cores,
    "vcpu-info.default-cores": lambda t: t.cores,
    "vcpu-info.default-threads-per-core": lambda t: 1,
    "memory-info.size-in-mib": lambda t: t.memory_mb,
    "instance-storage-supported": lambda t: True,
    "instance-storage-info.total-size-in-gb": lambda t: t.disk_gb,
    "instance-storage-info.disk.size-in-gb": lambda t: t.disk_gb,
    "instance-storage-info.disk.count": lambda t: 1,
    "instance-storage-info.disk.type": lambda t: "hdd",
    "current-generation": lambda t: True,
    "free-tier-eligible": lambda t: t.name == "t1.micro",
    "bare-metal": lambda t: False,
    "burstable-performance-supported": lambda t: False,
    "hibernation-supported": lambda t: False,
    "hypervisor": lambda t: "xen",
    "processor-info.supported-architecture": lambda t: "x86_64",
    "supported-root-device-type": lambda t: ("instance-store", "ebs"),
    "supported-usage-class": lambda t: "on-demand",
    "supported-virtualization-type": lambda t: ("paravirtual", "hvm"),
    "network-info.maximum-network-interfaces": lambda t: 1,
    "network-info.network-performance": lambda t: "Moderate",
    "ebs-info.ebs-optimized-support": lambda t: "unsupported",
}


def _details(t: Ec2InstanceType | tuple[str, int, int, int]) -> dict[str, Any]:
    """Eucalyptus' VmTypeDetails: name, cpu, memory (MiB), disk (GB)."""
    name, cpu, memory, disk = (
        t if isinstance(t, tuple) else (t.name, t.cores, t.memory_mb, t.disk_gb)
    )
    return {"Name": name, "Cpu": cpu, "Memory": memory, "Disk": disk}


def describe_instance_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _FILTERS)
    wanted = [str(n) for n in params.get("InstanceTypes") or []]
    with rt.store.read() as s:
        types = all_types(s)
    if wanted:
        known = {t.name for t in types}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise errors.instance_types_not_found(missing)
        types = [t for t in types if t.name in wanted]
    chosen = [t for t in types if matches(filters, lookup(_FILTERS, t), {})]
    ranked = [(f"{t.rank:06d}{t.name}", t) for t in chosen]
    # AWS pages DescribeInstanceTypes by 100 even without MaxResults.
    items, token = page(ranked, params, key=lambda p: p[0], max_default=100, max_bounds=(5, 100))
    if _eucalyptus_style(ctx):
        return {"InstanceTypeDetails": {"Items": [_details(t) for _, t in items]}}
    out: Result = {"InstanceTypes": [type_out(t) for _, t in items]}
    if token:
        out["NextToken"] = token
    return out


def modify_instance_type_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    """Eucalyptus' euca-modify-instance-type (the provider limits it to the cloud admin)."""
    defaults = {name: (name, c, m, d) for name, c, m, d in SEED_TYPES}
    changes = {k: params.get(k) for k in ("Cpu", "Memory", "Disk")}
    if params.get("Reset") and any(v is not None for v in changes.values()):
        raise errors.invalid_combination("Reset may not be combined with Cpu, Memory or Disk")
    for key, value in changes.items():
        if value is not None and int(value) < 1:
            raise errors.invalid_value(f"{key} must be at least 1")
    with rt.store.session() as s:
        t = get_type(s, str(params.get("Name") or ""))
        before = _details(t)
        if params.get("Reset"):
            if t.name not in defaults:
                raise errors.invalid_value(f"{t.name} has no default")
            _, t.cores, t.memory_mb, t.disk_gb = defaults[t.name]
        for key, attr in (("Cpu", "cores"), ("Memory", "memory_mb"), ("Disk", "disk_gb")):
            value = changes[key]
            if value is not None:
                setattr(t, attr, int(value))
        return {"InstanceType": _details(t), "PreviousInstanceType": before}


OPERATIONS: Operations = {
    "DescribeInstanceTypes": describe_instance_types,
    "ModifyInstanceTypeAttribute": modify_instance_type_attribute,
}
