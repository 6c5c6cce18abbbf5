"""Cloud properties: a typed, documented catalog; values an administrator set live in the DB.

Names follow Eucalyptus where it has the same knob, so `euctl NAME=VALUE` works as documented
there. Code reads properties with the typed getters (`get_int(store, name)`, ...); an unknown
name is a programming error (KeyError), a bad stored value falls back to the default.

To add a property: add a PropertyDef below (the catalog test checks that its default is valid).
A property each availability zone sets for itself goes in ZONE_CATALOG, named without its zone:
`<zone>.storage.blockstoragemanager`, as Eucalyptus names a partition's storage settings.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from mallee.registry import errors
from mallee.registry.proptypes import BadValue, PropertyDef, PropertyValue
from mallee.store import Store
from mallee.store.tables.registry import PropertyRow, ServiceRow

log = logging.getLogger(__name__)

# A DNS domain name (lower case), not under `localhost` (RFC 6761: resolved to loopback).
DOMAIN_PATTERN = (
    r"(?!(.*\.)?localhost$)(?=.{1,253}$)"
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)

CATALOG: tuple[PropertyDef, ...] = (
    PropertyDef(
        "authentication.access_keys_limit",
        "int",
        "2",
        "Access keys each IAM user (and each account's root) may have.",
        minimum=0,
        maximum=100,
    ),
    PropertyDef(
        "authentication.signing_certificates_limit",
        "int",
        "2",
        "Signing certificates each IAM user may have.",
        minimum=0,
        maximum=100,
    ),
    PropertyDef(
        "bootstrap.webservices.port",
        "int",
        "8773",
        "Port the user-facing services listen on when `mallee api` is started without --port.",
        minimum=1,
        maximum=65535,
    ),
    PropertyDef(
        "cloud.addresses.maxpublicaddresses",
        "int",
        "5",
        "Elastic IP addresses each account may allocate.",
        minimum=0,
        maximum=100000,
    ),
    PropertyDef(
        "cloud.addresses.dodynamicpublicaddresses",
        "bool",
        "true",
        "Give every new instance a public IP address from the pool (EDGE public IPs).",
    ),
    PropertyDef(
        "cloud.network.network_configuration",
        "json",
        "{}",
        "EDGE network configuration as a JSON object: public IPs, private subnets, "
        "instance DNS servers and domain. Edit with `euctl --edit`.",
    ),
    PropertyDef(
        "cloud.vmstate.instance_timeout",
        "duration",
        "720",
        "Minutes after which an instance that no node reports any more is terminated.",
        unit="minutes",
        minimum=1,
        maximum=525600,
    ),
    PropertyDef(
        "cloud.vmstate.terminated_time",
        "duration",
        "60",
        "Minutes a terminated instance is still listed by DescribeInstances.",
        unit="minutes",
        minimum=0,
        maximum=525600,
    ),
    PropertyDef(
        "cloud.vmstate.user_data_max_size_kb",
        "int",
        "16",
        "Largest user data an instance may be given, in KiB (AWS allows 16).",
        minimum=1,
        maximum=1024,
    ),
    PropertyDef(
        "cloud.vmtypes.default_type_name",
        "string",
        "m1.small",
        "Instance type RunInstances uses when the request names none.",
        pattern=r"[a-z0-9]+\.[a-z0-9]+",
    ),
    PropertyDef(
        "cloud.compute.scheduling_policy",
        "enum",
        "ROUNDROBIN",
        "How the controller picks a node for a new instance (Eucalyptus SCHEDPOLICY): "
        "ROUNDROBIN spreads instances over the nodes in turn, GREEDY fills one node first.",
        choices=("ROUNDROBIN", "GREEDY"),
    ),
    PropertyDef(
        "objectstorage.providerclient",
        "enum",
        "fs",
        "Where object data lives: fs (files under the data directory) or s3 (any "
        "S3-compatible store: Ceph RGW, MinIO, AWS).",
        choices=("fs", "s3"),
    ),
    # The s3 provider client (objectstorage.providerclient=s3): Eucalyptus's names for the
    # store's endpoint and keys, plus the one bucket that holds every blob.
    PropertyDef(
        "objectstorage.s3provider.s3endpoint",
        "string",
        "",
        "The S3-compatible store the s3 provider client keeps object data in: a URL "
        "(http://rgw.example.com:7480) or host[:port], then reached with "
        "objectstorage.s3provider.s3usehttps.",
        pattern=r"(|(https?://)?[A-Za-z0-9.\-\[\]:]+(/[^\s]*)?)",
    ),
    PropertyDef(
        "objectstorage.s3provider.s3usehttps",
        "bool",
        "false",
        "Reach an s3endpoint given without a scheme over HTTPS.",
    ),
    PropertyDef(
        "objectstorage.s3provider.s3accesskey",
        "string",
        "",
        "Access key id of the store's account the s3 provider client signs with.",
    ),
    PropertyDef(
        "objectstorage.s3provider.s3secretkey",
        "string",
        "",
        "Secret access key of that account (visible to cloud administrators only).",
    ),
    PropertyDef(
        "objectstorage.s3provider.bucket",
        "string",
        "mallee-objects",
        "The store's bucket that holds every object's data (created when missing); users' "
        "bucket names and keys never reach the store.",
        pattern=r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]",
    ),
    PropertyDef(
        "objectstorage.s3provider.region",
        "string",
        "us-east-1",
        "Region the store's signatures are scoped to (Ceph RGW: its zonegroup name).",
        pattern=r"[A-Za-z0-9\-_]{1,64}",
    ),
    PropertyDef(
        "objectstorage.bucket_naming_restrictions",
        "enum",
        "extended",
        "Bucket name rules: extended (legacy us-east-1 rules: up to 255 characters of "
        "letters, digits, '.', '-' and '_') or dns-compliant (3-63 lower-case characters).",
        choices=("extended", "dns-compliant"),
    ),
    PropertyDef(
        "objectstorage.max_buckets_per_account",
        "int",
        "100",
        "Buckets each account may own.",
        minimum=0,
        maximum=1000000,
    ),
    PropertyDef(
        "system.dns.dnsdomain",
        "string",
        "cloud.internal",
        "The cloud's DNS domain: instances' public names (euca-A-B-C-D.eucalyptus.<domain>) "
        "and load balancers' (<name>-<id>.<region>.elb.<domain>) are under it, and the "
        "nodes' DNS servers answer for it. Not 'localhost': clients resolve its names to "
        "themselves.",
        pattern=DOMAIN_PATTERN,
    ),
    PropertyDef(
        "services.loadbalancing.max_loadbalancers_per_account",
        "int",
        "20",
        "Classic load balancers each account may have (AWS's default quota is 20).",
        minimum=0,
        maximum=100000,
    ),
    PropertyDef(
        "services.autoscaling.max_groups_per_account",
        "int",
        "200",
        "Auto Scaling groups each account may have (AWS's default quota is 200).",
        minimum=0,
        maximum=100000,
    ),
    PropertyDef(
        "services.autoscaling.max_launch_configurations_per_account",
        "int",
        "200",
        "Launch configurations each account may have (AWS's default quota is 200).",
        minimum=0,
        maximum=100000,
    ),
)

PROPERTIES: dict[str, PropertyDef] = {p.name: p for p in CATALOG}

_POOLS = r"[A-Za-z0-9_.\-]{1,128}(,[A-Za-z0-9_.\-]{1,128})*"
_FILE = r"/[^\s]{0,1023}"

# Each zone's own: `<zone>.<name>`. A zone has them once a service of that zone registered
# (its storage controller, its nodes), as Eucalyptus lists a partition's properties.
ZONE_CATALOG: tuple[PropertyDef, ...] = (
    PropertyDef(
        "storage.blockstoragemanager",
        "enum",
        "overlay",
        "Backend the zone's new EBS volumes are made on: overlay (sparse files on the storage "
        "host, served to the nodes over NBD) or ceph-rbd (RBD images in a Ceph cluster, which "
        "QEMU on the nodes opens itself). A volume stays on the backend it was made on.",
        choices=("overlay", "ceph-rbd"),
    ),
    # ceph-rbd: where the cluster is and who the storage controller and the nodes are to it
    # (Eucalyptus 4.x's Ceph SC names and defaults).
    PropertyDef(
        "storage.cephconfigfile",
        "string",
        "/etc/ceph/ceph.conf",
        "Ceph configuration file (its monitors; with cephx, a `keyring` line naming the user's "
        "keyring, which QEMU's rbd driver reads) on the storage host and every node.",
        pattern=_FILE,
    ),
    PropertyDef(
        "storage.cephkeyringfile",
        "string",
        "/etc/ceph/ceph.client.eucalyptus.keyring",
        "Keyring of cephuser the storage controller's rbd commands use (when the file exists; "
        "a cluster without cephx needs none).",
        pattern=_FILE,
    ),
    PropertyDef(
        "storage.cephuser",
        "string",
        "eucalyptus",
        "Ceph client name (without `client.`) volumes are made and opened as.",
        pattern=r"[A-Za-z0-9_.\-]{1,64}",
    ),
    PropertyDef(
        "storage.cephvolumepools",
        "string",
        "rbd",
        "Ceph pool(s) new volumes' images are made in, comma-separated: a volume goes to the "
        "first (it records its pool, so the list may change later).",
        pattern=_POOLS,
    ),
    PropertyDef(
        "storage.cephsnapshotpools",
        "string",
        "rbd",
        "Ceph pool(s) Eucalyptus keeps snapshot images in. Unused by mallee, kept so "
        "Eucalyptus configurations apply: snapshot data lives in the object store for every "
        "backend, and an attached volume's point-in-time copy is an RBD snapshot in its own "
        "pool.",
        pattern=_POOLS,
    ),
)

ZONE_PROPERTIES: dict[str, PropertyDef] = {p.name: p for p in ZONE_CATALOG}


def _zone_definition(name: str) -> PropertyDef | None:
    """The zone property `name` (`<zone>.<catalog name>`) stands for, whatever the zone."""
    zone, _, rest = name.partition(".")
    found = ZONE_PROPERTIES.get(rest)
    if not zone or found is None:
        return None
    return dataclasses.replace(found, name=name)


def _lookup(name: str) -> PropertyDef:
    found = PROPERTIES.get(name) or _zone_definition(name)
    if found is None:
        raise KeyError(name)
    return found


def zones(store: Store) -> list[str]:
    """The zones that have zone properties: those of the registered services."""
    with store.read() as s:
        found = s.scalars(select(ServiceRow.partition).where(ServiceRow.partition != "")).all()
    return sorted(set(found))


@dataclass(frozen=True, slots=True)
class PropertyView:
    definition: PropertyDef
    # Canonical text of the value in effect.
    value: str

    @property
    def name(self) -> str:
        return self.definition.name


def definition(store: Store, name: str) -> PropertyDef:
    found = PROPERTIES.get(name)
    if found is None:
        zoned = _zone_definition(name)
        if zoned is not None and name.partition(".")[0] in zones(store):
            return zoned
        raise errors.no_such_property(name)
    return found


def _effective(prop: PropertyDef, stored: str | None) -> str:
    if stored is None:
        return prop.default
    try:
        return prop.canonical(stored)
    except BadValue:
        # Written under an older catalog (a choice since removed, a tighter bound): the default
        # is the only value known to be good.
        log.warning("stored value of %s is no longer valid; using the default", prop.name)
        return prop.default


def _matches(name: str, queries: list[str]) -> bool:
    """Exact name, or a dotted prefix as `euctl cloud.vmstate` lists a whole subtree."""
    for query in queries:
        prefix = query.strip().rstrip(".")
        if not prefix or name == prefix or name.startswith(prefix + "."):
            return True
    return False


def describe(store: Store, queries: list[str] | None = None) -> list[PropertyView]:
    """Every property (or those `queries` name or prefix), with the value in effect, by name."""
    every = list(CATALOG)
    for zone in zones(store):
        every += [dataclasses.replace(p, name=f"{zone}.{p.name}") for p in ZONE_CATALOG]
    selected = [p for p in every if not queries or _matches(p.name, queries)]
    with store.read() as s:
        rows = s.execute(select(PropertyRow.name, PropertyRow.value)).all()
        stored = {name: value for name, value in rows}
    return [
        PropertyView(p, _effective(p, stored.get(p.name)))
        for p in sorted(selected, key=lambda p: p.name)
    ]


def set_value(store: Store, name: str, text: str) -> tuple[str, str]:
    _cache.clear()
    """Validate and store a new value; returns (old, new) canonical values."""
    prop = definition(store, name)
    try:
        new = prop.canonical(text)
    except BadValue as err:
        raise errors.bad_property_value(name, text, str(err)) from None
    with store.session() as s:
        row = s.get(PropertyRow, name)
        old = _effective(prop, None if row is None else row.value)
        if row is None:
            s.add(PropertyRow(name=name, value=new, updated_at=time.time()))
        else:
            row.value, row.updated_at = new, time.time()
    return old, new


def reset(store: Store, name: str) -> tuple[str, str]:
    _cache.clear()
    """Back to the catalog default; returns (old, new) canonical values."""
    prop = definition(store, name)
    with store.session() as s:
        row = s.get(PropertyRow, name)
        old = _effective(prop, None if row is None else row.value)
        if row is not None:
            s.delete(row)
    return old, prop.default


# --- typed reads, for the rest of mallee ---------------------------------------------------------


# Hot paths read properties on every request: a value is reused for this long (seconds), so a
# change made with ModifyPropertyValue takes effect within it in every process.
CACHE_SECONDS = 1.0
_cache: dict[tuple[int, str], tuple[float, PropertyValue]] = {}


def get_property(store: Store, name: str) -> PropertyValue:
    """The value in effect, typed: int, bool, str, timedelta (durations) or dict (json)."""
    prop = _lookup(name)
    key = (id(store), name)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    with store.read() as s:
        row = s.get(PropertyRow, name)
        stored = None if row is None else row.value
    value = prop.typed(_effective(prop, stored))
    _cache[key] = (now, value)
    return value


def _typed(store: Store, name: str, kinds: tuple[str, ...]) -> PropertyValue:
    prop = _lookup(name)
    if prop.kind not in kinds:
        raise TypeError(f"property {name} is {prop.kind}, not {'/'.join(kinds)}")
    return get_property(store, name)


def get_int(store: Store, name: str) -> int:
    value = _typed(store, name, ("int",))
    assert isinstance(value, int)
    return value


def get_bool(store: Store, name: str) -> bool:
    value = _typed(store, name, ("bool",))
    assert isinstance(value, bool)
    return value


def get_str(store: Store, name: str) -> str:
    value = _typed(store, name, ("string", "enum"))
    assert isinstance(value, str)
    return value


def get_duration(store: Store, name: str) -> timedelta:
    value = _typed(store, name, ("duration",))
    assert isinstance(value, timedelta)
    return value


def get_json(store: Store, name: str) -> dict[str, Any]:
    value = _typed(store, name, ("json",))
    assert isinstance(value, dict)
    return value
