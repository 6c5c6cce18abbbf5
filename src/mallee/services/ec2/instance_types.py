"""Instance types: the seed's 18 Eucalyptus types, DescribeInstanceTypes in AWS's shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.base import Params, Provider, Result
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
        raise ServiceError(
            "InvalidParameterValue", f"Invalid value '{name}' for InstanceType.", 400
        )
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


_FILTERS = {
    "instance-type": lambda t: t.name,
    "vcpu-info.default-vcpus": lambda t: str(t.cores),
    "memory-info.size-in-mib": lambda t: str(t.memory_mb),
    "instance-storage-info.total-size-in-gb": lambda t: str(t.disk_gb),
    "current-generation": lambda t: "true",
}


class InstanceTypesApi(Provider):
    def describe_instance_types(self, ctx: RequestContext, params: Params) -> Result:
        filters = parse_filters(params.get("Filters"), _FILTERS)
        wanted = [str(n) for n in params.get("InstanceTypes") or []]
        with self.store.read() as s:
            types = all_types(s)
            if wanted:
                known = {t.name for t in types}
                missing = [n for n in wanted if n not in known]
                if missing:
                    raise ServiceError(
                        "InvalidInstanceType",
                        "The following supplied instance types do not exist: "
                        f"[{', '.join(missing)}]",
                        400,
                    )
                types = [t for t in types if t.name in wanted]
        chosen = [t for t in types if matches(filters, lookup(_FILTERS, t), {})]
        ranked = [(f"{t.rank:06d}", t) for t in chosen]
        items, token = page(ranked, params, key=lambda p: p[0], max_bounds=(5, 100))
        out: Result = {"InstanceTypes": [type_out(t) for _, t in items]}
        if token:
            out["NextToken"] = token
        return out

    def modify_instance_type_attribute(self, ctx: RequestContext, params: Params) -> Result:
        """Eucalyptus' euca-modify-instance-type (the provider limits it to the cloud admin)."""
        defaults = {name: (c, m, d) for name, c, m, d in SEED_TYPES}
        with self.store.session() as s:
            t = get_type(s, str(params.get("Name", "")))
            before = (t.cores, t.memory_mb, t.disk_gb)
            if params.get("Reset"):
                if t.name not in defaults:
                    raise ServiceError("InvalidParameterValue", f"{t.name} has no default", 400)
                t.cores, t.memory_mb, t.disk_gb = defaults[t.name]
            for key, attr in (("Cpu", "cores"), ("Memory", "memory_mb"), ("Disk", "disk_gb")):
                value = params.get(key)
                if value is None:
                    continue
                if int(value) < 1:
                    raise ServiceError(
                        "InvalidParameterValue", f"{key} must be a positive number", 400
                    )
                setattr(t, attr, int(value))
            return {
                "Name": t.name,
                "Cpu": t.cores,
                "Memory": t.memory_mb,
                "Disk": t.disk_gb,
                "PreviousCpu": before[0],
                "PreviousMemory": before[1],
                "PreviousDisk": before[2],
            }
