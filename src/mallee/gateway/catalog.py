"""Which services this cloud serves, and how a request finds each of them.

Routing data only: the engine stays generic, a service is a model name plus its provider class.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mallee.api.auth.errors import Style
from mallee.api.models import load_service_model
from mallee.services.autoscaling.provider import AutoScalingProvider
from mallee.services.base import Provider
from mallee.services.cloudformation.provider import CloudFormationProvider
from mallee.services.cloudwatch.provider import CloudWatchProvider
from mallee.services.ec2.provider import Ec2Provider
from mallee.services.elb.provider import ElbProvider
from mallee.services.empyrean.provider import EmpyreanProvider
from mallee.services.iam.provider import IamProvider
from mallee.services.s3.provider import S3Provider
from mallee.services.sts.provider import StsProvider


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    # botocore model name (iam, sts, ec2, s3, cloudwatch, elb, elbv2, empyrean, ...).
    name: str
    # Eucalyptus path names: requests to /services/<Name>/... reach this service.
    path_names: tuple[str, ...]
    # Host prefixes for endpoint-per-host routing (iam.<domain>, ec2.<region>.<domain>).
    host_prefixes: tuple[str, ...]
    # How authentication failures are spelled for this service (see mallee.api.auth).
    auth_style: Style
    # The provider class: one instance per process answers every request for the service.
    provider: type[Provider]
    # SigV4 service names clients sign with besides the model's (euca2ools signs the
    # Properties and bootstrap endpoints of Empyrean with their own names).
    extra_signing_names: tuple[str, ...] = ()
    # Bodies are read as they arrive and answers may be streamed (S3 objects).
    streaming: bool = False

    @property
    def signing_name(self) -> str:
        meta = load_service_model(self.name).metadata
        return str(meta.get("signingName") or meta["endpointPrefix"])

    @property
    def api_version(self) -> str:
        return str(load_service_model(self.name).api_version)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "ec2",
        ("compute", "Eucalyptus"),
        ("ec2", "compute"),
        "ec2",
        Ec2Provider,
    ),
    ServiceSpec("iam", ("Euare",), ("iam",), "query", IamProvider),
    ServiceSpec("sts", ("Tokens",), ("sts",), "query", StsProvider),
    ServiceSpec("cloudwatch", ("CloudWatch",), ("monitoring",), "query", CloudWatchProvider),
    ServiceSpec("elb", ("LoadBalancing",), ("elasticloadbalancing",), "query", ElbProvider),
    ServiceSpec("autoscaling", ("AutoScaling",), ("autoscaling",), "query", AutoScalingProvider),
    ServiceSpec(
        "cloudformation", ("CloudFormation",), ("cloudformation",), "query", CloudFormationProvider
    ),
    ServiceSpec(
        "s3",
        ("objectstorage", "Walrus"),
        ("s3",),
        "s3",
        S3Provider,
        streaming=True,
    ),
    ServiceSpec(
        "empyrean",
        ("Empyrean", "Properties"),
        ("empyrean", "properties", "bootstrap"),
        "query",
        EmpyreanProvider,
        ("properties", "bootstrap"),
    ),
)


@functools.cache
def by_name() -> dict[str, ServiceSpec]:
    return {s.name: s for s in SERVICES}


@functools.cache
def by_path_name() -> dict[str, ServiceSpec]:
    return {p.lower(): s for s in SERVICES for p in s.path_names}


@functools.cache
def by_host_prefix() -> dict[str, ServiceSpec]:
    return {h: s for s in SERVICES for h in s.host_prefixes}


@functools.cache
def by_signing_name() -> dict[str, list[ServiceSpec]]:
    """Several models may share a signing name (elb and elbv2): the api Version picks one."""
    table: dict[str, list[ServiceSpec]] = {}
    for s in SERVICES:
        for name in (s.signing_name, *s.extra_signing_names):
            table.setdefault(name, []).append(s)
    return table


@functools.cache
def by_query_version() -> dict[str, ServiceSpec]:
    """API Version -> the query-protocol service that has it, where only one has it."""
    table: dict[str, list[ServiceSpec]] = {}
    for s in SERVICES:
        if load_service_model(s.name).protocol in ("query", "ec2"):
            table.setdefault(s.api_version, []).append(s)
    return {version: specs[0] for version, specs in table.items() if len(specs) == 1}
