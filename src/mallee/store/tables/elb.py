"""Classic Elastic Load Balancing: load balancers, their listeners, policies, instances and tags
(the api's), their workers (the controller's) and what the workers' HAProxy sees (the nodes').

Who moves what:
- the api writes a load balancer's configuration (every row here but workers and health) and
  bumps the ELB generation in the same transaction;
- the controller's ELB manager (controller/elb.py) keeps one worker row per load balancer per
  zone: it places the worker on a node of the zone and gives it a public address from the
  pool (an `Ec2Address` of the `(eucalyptus)loadbalancing` account), and deletes the worker
  (and frees its address) once its load balancer or zone is gone and its node has stopped it;
- the node agent runs each worker placed on it (HAProxy in a namespace of its own) from these
  rows, reloads it when the generation moves, writes what HAProxy's health checks say into
  `elb_instance_health` and its cumulative counters into `elb_counters`;
- the controller's ELB metrics publisher (controller/elb_metrics.py) turns those counters into
  AWS/ELB datapoints a minute at a time, its place in each worker's counters kept in
  `elb_metric_sources`.

The ELB generation is the `elb` row of the nodes' generation counters (network.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mallee.store.db import Base
from mallee.store.tables.network import bump_generation, generation

_LB = "elb_load_balancers.id"
_CASCADE = "CASCADE"


def bump_elb(s: Session) -> None:
    """Mark the load balancers' desired state changed (inside the writing transaction)."""
    bump_generation(s, "elb")


def elb_generation(s: Session) -> int:
    return generation(s, "elb")


class ElbLoadBalancer(Base):
    __tablename__ = "elb_load_balancers"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_elb_account_name"),)

    # A short random id (lowercase hex): part of the DNS name, the namespace and file names.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete=_CASCADE)
    )
    name: Mapped[str] = mapped_column(String(32))
    # <name>-<id>.<region>.elb.<dns domain>
    dns_name: Mapped[str] = mapped_column(String(255))
    scheme: Mapped[str] = mapped_column(String(16), default="internet-facing")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # JSON lists: zone names, subnet ids, security group ids.
    zones: Mapped[str] = mapped_column(Text, default="[]")
    subnets: Mapped[str] = mapped_column(Text, default="[]")
    security_groups: Mapped[str] = mapped_column(Text, default="[]")
    vpc_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The health check (AWS's defaults until ConfigureHealthCheck).
    hc_target: Mapped[str] = mapped_column(String(1024), default="TCP:80")
    hc_interval: Mapped[int] = mapped_column(Integer, default=30)
    hc_timeout: Mapped[int] = mapped_column(Integer, default=5)
    hc_unhealthy: Mapped[int] = mapped_column(Integer, default=2)
    hc_healthy: Mapped[int] = mapped_column(Integer, default=10)
    # Attributes.
    cross_zone: Mapped[bool] = mapped_column(Boolean, default=False)
    draining_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    draining_timeout: Mapped[int] = mapped_column(Integer, default=300)
    idle_timeout: Mapped[int] = mapped_column(Integer, default=60)
    access_log_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    access_log_bucket: Mapped[str] = mapped_column(String(255), default="")
    access_log_prefix: Mapped[str] = mapped_column(String(1024), default="")
    access_log_interval: Mapped[int] = mapped_column(Integer, default=60)


class ElbListener(Base):
    __tablename__ = "elb_listeners"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    lb_port: Mapped[int] = mapped_column(Integer, primary_key=True)
    # HTTP | HTTPS | TCP | SSL
    protocol: Mapped[str] = mapped_column(String(8))
    instance_port: Mapped[int] = mapped_column(Integer)
    instance_protocol: Mapped[str] = mapped_column(String(8))
    # An IAM server certificate's ARN (HTTPS, SSL).
    ssl_certificate_id: Mapped[str] = mapped_column(String(2048), default="")
    # JSON list of policy names (SetLoadBalancerPoliciesOfListener).
    policy_names: Mapped[str] = mapped_column(Text, default="[]")


class ElbPolicy(Base):
    __tablename__ = "elb_policies"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # LBCookieStickinessPolicyType, AppCookieStickinessPolicyType, ProxyProtocolPolicyType, ...
    type_name: Mapped[str] = mapped_column(String(255))
    # JSON list of [name, value] pairs, in the order given.
    attributes: Mapped[str] = mapped_column(Text, default="[]")


class ElbBackendPolicies(Base):
    """SetLoadBalancerPoliciesForBackendServer: the policies of one instance port."""

    __tablename__ = "elb_backend_policies"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    instance_port: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_names: Mapped[str] = mapped_column(Text, default="[]")


class ElbInstance(Base):
    """A registered instance; a deregistered one stays, draining, until `drain_until`."""

    __tablename__ = "elb_instances"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Epoch seconds; set by DeregisterInstances when draining is on (None: registered).
    drain_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class ElbInstanceHealth(Base):
    """What a worker's HAProxy says of one back end (DescribeInstanceHealth reads it)."""

    __tablename__ = "elb_instance_health"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # InService | OutOfService | Unknown
    state: Mapped[str] = mapped_column(String(16))
    # ELB | Instance | N/A
    reason_code: Mapped[str] = mapped_column(String(16), default="N/A")
    description: Mapped[str] = mapped_column(String(1024), default="N/A")
    updated_at: Mapped[float] = mapped_column(Float)


class ElbInterface(Base):
    """A load balancer's requester-managed network interface in one of its subnets of a user
    VPC (the api makes and deletes it with the subnet's attachment): the address its worker of
    that subnet's zone uses inside the VPC (node/lb/vpc.py plugs it into the subnet)."""

    __tablename__ = "elb_interfaces"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    subnet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(255))
    interface_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_network_interfaces.id", ondelete=_CASCADE), index=True
    )


class ElbTag(Base):
    __tablename__ = "elb_tags"

    lb_id: Mapped[str] = mapped_column(
        String(32), ForeignKey(_LB, ondelete=_CASCADE), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")


class ElbWorker(Base):
    """One HAProxy of a load balancer in one zone."""

    __tablename__ = "elb_workers"
    __table_args__ = (
        UniqueConstraint("lb_id", "zone", name="uq_elb_workers_lb_zone"),
        Index("ix_elb_workers_node", "node"),
    )

    # elbw-<hex>: names the worker's namespace and run directory.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Not a foreign key: a worker outlives its load balancer until its node has stopped it.
    lb_id: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str] = mapped_column(String(255))
    # The node running it (None until placed).
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    public_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    # pending (no node or address yet) -> running (the node reported HAProxy up) ->
    # deleting (its load balancer or zone went; the node stops it) -> stopped (the node
    # reports it stopped) -> row deleted, address freed (the controller). A worker moved off
    # a silent node goes back to pending on its new node, keeping its address.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The ELB generation the node last applied to it.
    applied_generation: Mapped[int] = mapped_column(BigInteger, default=0)


# The cumulative counters of one worker's HAProxy process, in ElbCounters' and
# ElbMetricSource's columns, in this order (the controller's publisher reads them so).
ELB_COUNTERS = (
    "requests",
    "latency",
    "elb_4xx",
    "elb_5xx",
    "backend_2xx",
    "backend_3xx",
    "backend_4xx",
    "backend_5xx",
    "connection_errors",
    "healthy",
    "unhealthy",
    "samples",
)


class ElbCounters(Base):
    """What one worker's HAProxy has counted since its process started (the node rewrites the
    row every second or few; the controller's ELB metrics publisher reads it).

    `requests`, the HTTP codes and `connection_errors` are HAProxy's own counters; `latency`
    (seconds, summed over requests), `healthy`, `unhealthy` (back ends seen in and out of
    service, summed over samples) and `samples` are added up by the node from each sample, and
    start over with the process as HAProxy's do. `surge_max` is the longest queue seen in the
    minute starting at `surge_minute`, `surge_prev` the one before's."""

    __tablename__ = "elb_counters"

    worker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lb_id: Mapped[str] = mapped_column(String(32))
    # The HAProxy worker process: its pid and start (epoch seconds); another means the
    # counters started over from zero.
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[float] = mapped_column(Float, default=0.0)
    sampled_at: Mapped[float] = mapped_column(Float)
    requests: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[float] = mapped_column(Float, default=0.0)
    elb_4xx: Mapped[float] = mapped_column(Float, default=0.0)
    elb_5xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_2xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_3xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_4xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_5xx: Mapped[float] = mapped_column(Float, default=0.0)
    connection_errors: Mapped[float] = mapped_column(Float, default=0.0)
    healthy: Mapped[float] = mapped_column(Float, default=0.0)
    unhealthy: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[float] = mapped_column(Float, default=0.0)
    surge_minute: Mapped[float] = mapped_column(Float, default=0.0)
    surge_max: Mapped[float] = mapped_column(Float, default=0.0)
    surge_prev: Mapped[float] = mapped_column(Float, default=0.0)


class ElbMetricSource(Base):
    """Where the controller's ELB metrics publisher is in one worker's counters: the reading
    at the end of the last minute published (as metric_sources' rows for instances), moved by
    a conditional UPDATE in the transaction that stores that minute's datapoints."""

    __tablename__ = "elb_metric_sources"

    worker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float] = mapped_column(Float, default=0.0)
    requests: Mapped[float] = mapped_column(Float, default=0.0)
    latency: Mapped[float] = mapped_column(Float, default=0.0)
    elb_4xx: Mapped[float] = mapped_column(Float, default=0.0)
    elb_5xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_2xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_3xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_4xx: Mapped[float] = mapped_column(Float, default=0.0)
    backend_5xx: Mapped[float] = mapped_column(Float, default=0.0)
    connection_errors: Mapped[float] = mapped_column(Float, default=0.0)
    healthy: Mapped[float] = mapped_column(Float, default=0.0)
    unhealthy: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[float] = mapped_column(Float, default=0.0)
