"""The service registry: which components exist, where they run, and whether they are alive.

Every mallee process registers itself at start (`register_self`) and heartbeats while it runs
(`heartbeat`). An administrator may pre-register a service by name (RegisterService, as
`euca_conf --register-service`); the process that later starts with that name claims the row.
The state DescribeServices shows is derived when read, never swept:

    STOPPED   the administrator stopped it (whatever the process is doing)
    NOTREADY  never claimed, or no heartbeat within the heartbeat timeout
    BROKEN    alive, but the component reported a fault with its heartbeat
    ENABLED / DISABLED   otherwise, as the administrator left it (ENABLED by default)

`is_enabled` and `enabled_services` are what schedulers ask: a DISABLED node gets no new work.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mallee.config import Settings
from mallee.registry import errors
from mallee.registry.types import SERVICE_TYPES, service_type
from mallee.store import Store
from mallee.store.tables.registry import ServiceRow

STATES = ("ENABLED", "DISABLED", "NOTREADY", "BROKEN", "STOPPED")

# ModifyService's State: Eucalyptus takes transition names (ENABLE, STOP, ...) and state names.
# START lands on ENABLED: Eucalyptus starts to DISABLED and its topology then enables the service;
# mallee has no separate topology step, so an admin's START means "serve again".
_REQUESTED_STATES = {
    "ENABLE": "ENABLED",
    "ENABLED": "ENABLED",
    "START": "ENABLED",
    "DISABLE": "DISABLED",
    "DISABLED": "DISABLED",
    "STOP": "STOPPED",
    "STOPPED": "STOPPED",
}


def default_timeout() -> float:
    """The heartbeat timeout callers get when they pass none: the environment's setting."""
    return float(Settings.from_env().heartbeat_timeout)


class ServiceState(Protocol):
    """What the derived state is computed from: a ServiceRow, or a plain row of its columns."""

    @property
    def admin_state(self) -> str: ...
    @property
    def claimed_at(self) -> float | None: ...
    @property
    def last_heartbeat(self) -> float | None: ...
    @property
    def fault(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: str
    name: str
    type: str
    host: str
    port: int
    partition: str
    admin_state: str
    epoch: int
    state: str
    # Why the service is in `state`, when that is not simply the administrator's choice.
    details: tuple[str, ...]
    last_heartbeat: float | None

    @property
    def shown_partition(self) -> str:
        """Eucalyptus shows a service that belongs to no zone as its own partition."""
        partitioned = self.type in SERVICE_TYPES and SERVICE_TYPES[self.type].partitioned
        return self.partition if partitioned or not self.partition else self.name

    @property
    def full_name(self) -> str:
        partitioned = self.type in SERVICE_TYPES and SERVICE_TYPES[self.type].partitioned
        if not partitioned:
            # Zone-less components live in Eucalyptus' "bootstrap" namespace (the seed:
            # arn:euca:bootstrap:API_110:user-api:API_110/).
            return f"arn:euca:bootstrap:{self.name}:{self.type}:{self.name}/"
        return f"arn:euca:eucalyptus:{self.partition}:{self.type}:{self.name}/"

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}")
# A DNS name, an IPv4 address or an IPv6 address.
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,254}")


def _validate(name: str, host: str, port: int | None) -> None:
    if not _NAME.fullmatch(name):
        raise errors.invalid_parameter_value(
            f"Invalid service name: {name!r} (letters, digits and . _ : @ -, up to 255)"
        )
    if not _HOST.fullmatch(host):
        raise errors.invalid_parameter_value(f"Invalid host: {host!r}")
    if port is not None and not 1 <= port <= 65535:
        raise errors.invalid_parameter_value(f"Invalid port: {port} (1-65535)")


def derive_state(row: ServiceState, now: float, timeout: float) -> tuple[str, tuple[str, ...]]:
    if row.admin_state == "STOPPED":
        return "STOPPED", ("stopped by the administrator",)
    if row.claimed_at is None:
        return "NOTREADY", ("registered; no process with this name has started yet",)
    if row.last_heartbeat is None or now - row.last_heartbeat > timeout:
        age = "never" if row.last_heartbeat is None else f"{now - row.last_heartbeat:.0f}s ago"
        return "NOTREADY", (f"last heartbeat {age} (timeout {timeout:g}s)",)
    if row.fault:
        return "BROKEN", (row.fault,)
    return row.admin_state, ()


def _record(row: ServiceRow, now: float, timeout: float) -> ServiceRecord:
    state, details = derive_state(row, now, timeout)
    return ServiceRecord(
        id=row.id,
        name=row.name,
        type=row.type,
        host=row.host,
        port=row.port,
        partition=row.partition,
        admin_state=row.admin_state,
        epoch=row.epoch,
        state=state,
        details=details,
        last_heartbeat=row.last_heartbeat,
    )


def _clock(now: float | None, timeout: float | None) -> tuple[float, float]:
    return (
        time.time() if now is None else now,
        default_timeout() if timeout is None else timeout,
    )


def requested_state(value: str) -> str:
    """The admin state a ModifyService State value asks for, or InvalidParameterValue."""
    found = _REQUESTED_STATES.get(value.strip().upper())
    if found is None:
        raise errors.bad_state(value, _REQUESTED_STATES)
    return found


# --- components registering themselves ---------------------------------------------------------


def register_self(
    store: Store,
    *,
    type: str,
    name: str,
    host: str,
    port: int,
    partition: str = "",
    now: float | None = None,
    timeout: float | None = None,
) -> str:
    """Register the calling process (or claim the row an administrator pre-registered).

    Returns the service id to heartbeat with. The same name may be claimed again from the same
    host (a restart, or several workers of one server); from another host only once the holder
    has stopped heartbeating.
    """
    stype = service_type(type)
    _validate(name, host, port)
    now, timeout = _clock(now, timeout)
    for attempt in range(2):
        try:
            with store.session() as s:
                row = s.scalar(select(ServiceRow).where(ServiceRow.name == name))
                if row is None:
                    row = ServiceRow(
                        id=str(uuid.uuid4()),
                        name=name,
                        type=stype.name,
                        host=host,
                        port=port,
                        partition=partition,
                        admin_state="ENABLED",
                        epoch=0,
                        registered_at=now,
                    )
                    s.add(row)
                else:
                    _check_claim(row, stype.name, host, now, timeout)
                row.host, row.port = host, port
                row.partition = partition or row.partition
                row.claimed_at = row.last_heartbeat = now
                row.fault = None
                return row.id
        except IntegrityError:
            # Another process inserted the same name between our read and write: claim it.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _check_claim(row: ServiceRow, type_name: str, host: str, now: float, timeout: float) -> None:
    if row.type != type_name:
        raise errors.invalid_parameter_value(
            f"Service {row.name} is registered as type {row.type}, not {type_name}"
        )
    alive = row.last_heartbeat is not None and now - row.last_heartbeat <= timeout
    if alive and row.host != host:
        raise errors.running_elsewhere(row.name, row.host, host)


def heartbeat(
    store: Store, service_id: str, *, fault: str | None = None, now: float | None = None
) -> bool:
    """Record that the service is alive; `fault` reports it BROKEN with that reason.

    False when the service is no longer registered (an administrator deregistered it).
    """
    now, _ = _clock(now, None)
    with store.session() as s:
        row = s.get(ServiceRow, service_id)
        if row is None:
            return False
        row.last_heartbeat = now
        row.claimed_at = row.claimed_at or now
        row.fault = fault
        return True


# --- administration (RegisterService, DeregisterService, ModifyService) ------------------------


def register_service(
    store: Store,
    *,
    type: str,
    name: str,
    host: str,
    port: int | None = None,
    partition: str = "",
    now: float | None = None,
    timeout: float | None = None,
) -> ServiceRecord:
    """Pre-register a service: it shows NOTREADY until a process with this name claims it."""
    stype = service_type(type)
    _validate(name, host, port)
    if stype.partitioned and not partition:
        raise errors.invalid_parameter_value(
            f"Services of type {stype.name} must be registered in an availability zone (Partition)"
        )
    now, timeout = _clock(now, timeout)
    row = ServiceRow(
        id=str(uuid.uuid4()),
        name=name,
        type=stype.name,
        host=host,
        port=port or stype.default_port,
        partition=partition,
        admin_state="ENABLED",
        epoch=0,
        registered_at=now,
    )
    try:
        with store.session() as s:
            if s.scalar(select(ServiceRow.id).where(ServiceRow.name == name)) is not None:
                raise errors.service_exists(name)
            s.add(row)
    except IntegrityError:
        raise errors.service_exists(name) from None
    return _record(row, now, timeout)


def deregister_service(
    store: Store,
    name: str,
    *,
    type: str | None = None,
    now: float | None = None,
    timeout: float | None = None,
) -> ServiceRecord:
    """Remove a service; a running process keeps running but is no longer part of the cloud."""
    now, timeout = _clock(now, timeout)
    wanted = service_type(type).name if type else None
    with store.session() as s:
        row = s.scalar(select(ServiceRow).where(ServiceRow.name == name))
        if row is None or (wanted is not None and row.type != wanted):
            raise errors.no_such_service([name])
        record = _record(row, now, timeout)
        s.delete(row)
    return record


def modify_service(
    store: Store,
    name: str,
    state: str,
    *,
    now: float | None = None,
    timeout: float | None = None,
) -> ServiceRecord:
    """Set the administrator's state (ENABLED, DISABLED or STOPPED; transition names accepted)."""
    target = requested_state(state)
    now, timeout = _clock(now, timeout)
    with store.session() as s:
        row = s.scalar(select(ServiceRow).where(ServiceRow.name == name))
        if row is None:
            raise errors.no_such_service([name])
        if row.admin_state != target:
            row.admin_state = target
            row.epoch += 1
        return _record(row, now, timeout)


# --- queries ------------------------------------------------------------------------------------


def list_services(
    store: Store, *, now: float | None = None, timeout: float | None = None
) -> list[ServiceRecord]:
    now, timeout = _clock(now, timeout)
    with store.read() as s:
        rows = s.scalars(select(ServiceRow).order_by(ServiceRow.name)).all()
        return [_record(r, now, timeout) for r in rows]


def get_service(
    store: Store, service_id: str, *, now: float | None = None, timeout: float | None = None
) -> ServiceRecord | None:
    now, timeout = _clock(now, timeout)
    with store.read() as s:
        row = s.get(ServiceRow, service_id)
        return None if row is None else _record(row, now, timeout)


def is_enabled(
    store: Store, service_id: str, *, now: float | None = None, timeout: float | None = None
) -> bool:
    """Whether the service may be given new work: registered, alive, and ENABLED."""
    record = get_service(store, service_id, now=now, timeout=timeout)
    return record is not None and record.state == "ENABLED"


def enabled_services(
    store: Store,
    type: str,
    *,
    partition: str | None = None,
    now: float | None = None,
    timeout: float | None = None,
) -> list[ServiceRecord]:
    """The ENABLED services of a type (optionally in one zone), by name: where work may go."""
    wanted = service_type(type).name
    now, timeout = _clock(now, timeout)
    query = select(ServiceRow).where(ServiceRow.type == wanted)
    if partition is not None:
        query = query.where(ServiceRow.partition == partition)
    with store.read() as s:
        rows = s.scalars(query.order_by(ServiceRow.name)).all()
        records = [_record(r, now, timeout) for r in rows]
    return [r for r in records if r.state == "ENABLED"]
